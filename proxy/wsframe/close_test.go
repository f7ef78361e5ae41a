package wsframe

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestValidCloseCode(t *testing.T) {
	valid := map[uint16]bool{}
	for _, r := range [][2]uint16{{1000, 1003}, {1007, 1014}, {3000, 4999}} {
		for c := r[0]; c <= r[1]; c++ {
			valid[c] = true
		}
	}
	for c := range 1 << 16 {
		if got := ValidCloseCode(uint16(c)); got != valid[uint16(c)] {
			t.Errorf("ValidCloseCode(%d) = %v, want %v", c, got, valid[uint16(c)])
		}
	}
}

func TestParseCloseCode(t *testing.T) {
	tests := []struct {
		name     string
		payload  []byte
		wantCode uint16
		wantOK   bool
	}{
		{name: "empty", payload: nil, wantCode: CloseNoStatus, wantOK: true},
		{name: "one byte", payload: []byte{3}, wantCode: 0, wantOK: false},
		{name: "1000", payload: []byte{0x03, 0xe8}, wantCode: 1000, wantOK: true},
		{name: "1001 with reason", payload: []byte("\x03\xe9going away"), wantCode: 1001, wantOK: true},
		{name: "4999", payload: []byte{0x13, 0x87}, wantCode: 4999, wantOK: true},
		{name: "1005 is never sent", payload: []byte{0x03, 0xed}, wantCode: 1005, wantOK: false},
		{name: "1006 is never sent", payload: []byte{0x03, 0xee}, wantCode: 1006, wantOK: false},
		{name: "1015 is never sent", payload: []byte{0x03, 0xf7}, wantCode: 1015, wantOK: false},
		{name: "999", payload: []byte{0x03, 0xe7}, wantCode: 999, wantOK: false},
		{name: "5000", payload: []byte{0x13, 0x88}, wantCode: 5000, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ok := ParseCloseCode(tt.payload)
			if code != tt.wantCode || ok != tt.wantOK {
				t.Errorf("ParseCloseCode(% x) = %d, %v, want %d, %v", tt.payload, code, ok, tt.wantCode, tt.wantOK)
			}
		})
	}
}

// TestAppendCloseBytes pins the encoding against frames built by hand.
func TestAppendCloseBytes(t *testing.T) {
	tests := []struct {
		name   string
		code   uint16
		reason string
		mask   bool
		want   []byte
	}{
		{name: "unmasked 1001", code: 1001, want: []byte{0x88, 0x02, 0x03, 0xe9}},
		{name: "unmasked with reason", code: 1000, reason: "bye", want: []byte{0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'}},
		{name: "masked 1001", code: 1001, mask: true, want: masked(closeFrame(1001, "")).bytes()},
		{name: "masked with reason", code: 4000, reason: "going away", mask: true, want: masked(closeFrame(4000, "going away")).bytes()},
		{name: "longest reason", code: 1012, reason: strings.Repeat("é", 61) + "x", want: closeFrame(1012, strings.Repeat("é", 61)+"x").bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkClose(tt.code, tt.reason); err != nil {
				t.Fatalf("checkClose(%d, %q) = %v, want nil", tt.code, tt.reason, err)
			}
			got := appendClose([]byte("prefix"), tt.code, tt.reason, tt.mask, *testKey)
			want := append([]byte("prefix"), tt.want...)
			if !bytes.Equal(got, want) {
				t.Errorf("appendClose(%d, %q, %v) = % x, want % x", tt.code, tt.reason, tt.mask, got, want)
			}
		})
	}
}

func TestAppendCloseErrors(t *testing.T) {
	tests := []struct {
		name   string
		code   uint16
		reason string
	}{
		{name: "code 0", code: 0},
		{name: "code 1004", code: 1004},
		{name: "code 1005", code: 1005},
		{name: "code 1006", code: 1006},
		{name: "code 1015", code: 1015},
		{name: "code 2999", code: 2999},
		{name: "code 5000", code: 5000},
		{name: "reason of 124 bytes", code: 1001, reason: strings.Repeat("x", 124)},
		{name: "reason not UTF-8", code: 1001, reason: "caf\xe9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendClose(dst, tt.code, tt.reason, false)
			if err == nil || string(got) != "keep" {
				t.Errorf("AppendClose(%q, %d, %q, false) = %q, %v, want %q and an error", dst, tt.code, tt.reason, got, err, "keep")
			}
		})
	}
}

// TestAppendCloseRoundTrip runs AppendClose through a Scanner, masked and
// not, for a sample of codes and reasons.
func TestAppendCloseRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		mask    bool
		masking Masking
	}{
		{name: "toward the client", mask: false, masking: MaskForbidden},
		{name: "toward the app", mask: true, masking: MaskRequired},
	}
	reasons := []string{"", "going away", "server restarting: please reconnect", strings.Repeat("ü", 61)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, code := range []uint16{1000, 1001, 1003, 1007, 1014, 3000, 4999} {
				for _, reason := range reasons {
					before := text("before")
					if tt.mask {
						before = masked(before)
					}
					prefix := before.bytes()
					f, err := AppendClose(prefix, code, reason, tt.mask)
					if err != nil {
						t.Fatalf("AppendClose(%d, %q, %v) = %v", code, reason, tt.mask, err)
					}
					if masked := f[len(prefix)+1]&0x80 != 0; masked != tt.mask {
						t.Fatalf("AppendClose(%d, %q, %v): MASK bit %v, want %v", code, reason, tt.mask, masked, tt.mask)
					}
					s := Scanner{Masking: tt.masking}
					ends := scanChunks(&s, f)
					gotCode, gotReason := s.CloseStatus()
					if want := []int{len(prefix), len(f)}; s.Err() != nil || !slices.Equal(ends, want) || gotCode != code || string(gotReason) != reason {
						t.Errorf("Scanner on AppendClose(%d, %q, %v): boundaries %v, CloseStatus() %d, %q, Err() %v, want %v, %d, %q, nil",
							code, reason, tt.mask, ends, gotCode, gotReason, s.Err(), want, code, reason)
					}
				}
			}
		})
	}
}

// TestAppendCloseMaskKey checks that each masked frame gets its own key
// (RFC 6455 §5.3): two frames with the same key in a row would be a
// 1 in 2^32 event.
func TestAppendCloseMaskKey(t *testing.T) {
	a, _ := AppendClose(nil, CloseGoingAway, "", true)
	b, _ := AppendClose(nil, CloseGoingAway, "", true)
	if bytes.Equal(a[2:6], b[2:6]) {
		t.Errorf("AppendClose(1001, masked) twice used key % x both times", a[2:6])
	}
	s := Scanner{Masking: MaskRequired}
	s.Advance(a)
	if code, _ := s.CloseStatus(); code != CloseGoingAway || s.Err() != nil {
		t.Errorf("Scanner on masked AppendClose(1001) = %d, %v, want 1001, nil", code, s.Err())
	}
}
