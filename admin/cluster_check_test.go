package admin_test

import (
	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster"
)

// The real node must keep satisfying what the admin API needs.
var _ admin.Cluster = (*cluster.Node)(nil)
