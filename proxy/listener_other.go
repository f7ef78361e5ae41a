//go:build !linux

package proxy

import "net"

// takeQueued is Linux only; elsewhere queued connections are reset when
// the listener closes.
func takeQueued(net.Listener) []net.Conn { return nil }
