package reqinfo

import "strings"

// HostOf returns the host part of a "host:port" remote address without
// allocating: "1.2.3.4:5" -> "1.2.3.4", "[::1]:5" -> "::1". An address
// without a port is returned as is.
func HostOf(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr
	}
	if addr[0] != '[' {
		if strings.IndexByte(addr, ':') != i {
			return addr // a bare IPv6 address
		}
		return addr[:i]
	}
	if addr[i-1] == ']' {
		return addr[1 : i-1]
	}
	return addr // "[::1" or "[::1]" alone: not host:port
}
