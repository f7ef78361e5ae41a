package wsframe

import "testing"

// benchChunk is the size of the chunks the benchmarks scan, a typical
// copy buffer.
const benchChunk = 64 << 10

// smallFrames returns a 64 KiB chunk of back-to-back frames with payloads of
// 0 to 40 bytes, masked when mask is set. A last, longer frame fills the
// chunk exactly, so that the chunk repeated is a valid stream.
func smallFrames(mask bool) []byte {
	var key *[4]byte
	if mask {
		key = testKey
	}
	var b []byte
	for i := 0; benchChunk-len(b) > 200; i++ {
		b = append(b, frame{b0: fin(0x1), key: key, payload: filler(i % 41)}.bytes()...)
	}
	hdr := 4
	if mask {
		hdr += 4
	}
	last := frame{b0: fin(0x2), key: key, lenForm: len16, payload: filler(benchChunk - len(b) - hdr)}
	return append(b, last.bytes()...)
}

// BenchmarkScannerSmallFrames scans a stream of small frames (about 2,900
// per chunk) in 64 KiB chunks with Advance.
func BenchmarkScannerSmallFrames(b *testing.B) {
	for _, bm := range []struct {
		name string
		mask bool
	}{{"unmasked", false}, {"masked", true}} {
		b.Run(bm.name, func(b *testing.B) {
			chunk := smallFrames(bm.mask)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			var s Scanner
			for b.Loop() {
				s.Advance(chunk)
			}
			if s.Err() != nil {
				b.Fatal(s.Err())
			}
		})
	}
}

// BenchmarkScannerSmallFramesNext visits every boundary with Next, as a
// tunnel looking for one does.
func BenchmarkScannerSmallFramesNext(b *testing.B) {
	chunk := smallFrames(false)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	var s Scanner
	for b.Loop() {
		for p := chunk; len(p) > 0; {
			p = p[s.Next(p):]
		}
	}
	if s.Err() != nil {
		b.Fatal(s.Err())
	}
}

// BenchmarkScannerLargeFrame scans 64 KiB chunks of the payload of one
// frame of 2^62 bytes.
func BenchmarkScannerLargeFrame(b *testing.B) {
	chunk := make([]byte, benchChunk)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	var s Scanner
	s.Advance([]byte{0x82, 127, 0x40, 0, 0, 0, 0, 0, 0, 0})
	for b.Loop() {
		s.Advance(chunk)
	}
	if s.Err() != nil || s.AtBoundary() {
		b.Fatalf("Err() %v, AtBoundary() %v, want nil, false", s.Err(), s.AtBoundary())
	}
}

// TestScannerAllocs checks that scanning allocates nothing.
func TestScannerAllocs(t *testing.T) {
	small := smallFrames(true)
	large := make([]byte, benchChunk)
	if len(small) != benchChunk {
		t.Fatalf("smallFrames is %d bytes, want %d", len(small), benchChunk)
	}
	var s Scanner
	allocs := testing.AllocsPerRun(100, func() {
		s.Reset()
		s.Advance(small)
		for p := small; len(p) > 0; {
			p = p[s.Next(p):]
		}
		s.Advance([]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0})
		s.Advance(large)
	})
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	if allocs != 0 {
		t.Errorf("scanning allocates %v times per run, want 0", allocs)
	}
}
