package drain

import "strconv"

var phaseNames = [...]string{
	Serving:  "serving",
	Delaying: "delaying",
	Draining: "draining",
	Stopping: "stopping",
	Done:     "done",
}

// String returns the lower-case name of the phase, such as "draining", or
// "Phase(n)" for a value outside the defined phases.
func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}
