//go:build race

package admin

import "time"

// dashScaleBudget is generous under the race detector, which slows the
// build of the document about tenfold.
const dashScaleBudget = 500 * time.Millisecond
