//go:build !linux

package h1server

import "errors"

// parker is Linux-only (epoll); elsewhere idle connections keep their
// goroutine.
type parker struct{}

func newParker() (*parker, error) { return nil, errors.New("parking idle connections needs Linux") }

func (p *parker) park(c *conn) bool { return false }

func (p *parker) unpark(c *conn) bool { return false }

func (p *parker) close() []*conn { return nil }
