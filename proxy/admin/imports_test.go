package admin

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the dependency direction: admin learns about the proxy
// and the drain sequence only through the functions it is given, and may
// use the drain package for its Phase type alone.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/lameduck/lameduck/drain": true,
	}
	for _, path := range pkg.Imports {
		switch {
		case allowed[path]:
		case strings.HasPrefix(path, "github.com/lameduck/lameduck"):
			t.Errorf("admin imports %s; it may import only the drain package of lameduck", path)
		case strings.HasPrefix(path, "github.com/prometheus/client_golang/"):
		case !strings.Contains(strings.Split(path, "/")[0], "."):
			// standard library
		default:
			t.Errorf("admin imports %s; it may import only the standard library, client_golang and drain", path)
		}
	}
}
