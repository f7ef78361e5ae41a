//go:build !race

package deploysim

// raceEnabled: the lameduck binary under test is built with the race
// detector when the tests run with it.
const raceEnabled = false
