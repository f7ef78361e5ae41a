package main

import "runtime/debug"

// version is set at build time with -ldflags "-X main.version=v1.2.3"; it
// falls back to the module version recorded by the go command.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
