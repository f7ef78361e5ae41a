package drain

import "testing"

func TestPhaseString(t *testing.T) {
	tests := []struct {
		name string
		in   Phase
		want string
	}{
		{"serving", Serving, "serving"},
		{"delaying", Delaying, "delaying"},
		{"draining", Draining, "draining"},
		{"stopping", Stopping, "stopping"},
		{"done", Done, "done"},
		{"past the end", Done + 1, "Phase(5)"},
		{"negative", -1, "Phase(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("Phase(%d).String() = %q, want %q", int(tt.in), got, tt.want)
			}
		})
	}
}
