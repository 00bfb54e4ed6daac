//go:build !race

package admin

import "time"

// dashScaleBudget bounds building /dashboard/data for 50 routes and 500
// containers: a small part of the one-second poll.
const dashScaleBudget = 50 * time.Millisecond
