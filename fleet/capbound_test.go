package fleet

import (
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestConfigRejectsACapNoKeyCanState: a process records its Cap in its cap
// key, and every fetch reads it back as a count, refusing counts above
// maxHolderCount (fail closed). A Cap above that (math.MaxInt as "no fleet
// limit", say) used to be accepted, and then every fetch failed on the
// process's own cap key: the budget never took a permit, and said so only
// in EtcdErrors and a debug log.
func TestConfigRejectsACapNoKeyCanState(t *testing.T) {
	cfg := Config{Client: &clientv3.Client{}, Prefix: "/t/capbound/", Cap: maxHolderCount}
	require.NoError(t, cfg.validate())
	for _, c := range []int{maxHolderCount + 1, 1 << 62} {
		cfg.Cap = c
		err := cfg.validate()
		require.Error(t, err, "Cap %d", c)
		require.Contains(t, err.Error(), "Cap")
	}
}
