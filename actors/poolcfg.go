package actors

import "github.com/idpool/idpool/tokens"

// poolCfg is a pool's configuration: the fields that are each pool's own,
// and the rest behind a pointer that every pool of a manager shares. A
// whole PoolConfig (120 bytes) in each of thousands of idle pools cost 64
// bytes per pool after size classes. The shared fields are reached through
// the embedded pointer (p.cfg.MaxSize); the own ones, declared here, shadow
// the shared struct's, which stay zero.
type poolCfg struct {
	*PoolConfig
	// The flags the hit path reads come right after the pointer, in the
	// Pool's first cache line (see Pool); Key and Seed are read only to
	// report and to seed.
	UsesToken bool
	// NeedsPermit is PoolConfig.NeedsPermit.
	NeedsPermit bool
	// noFastPaths turns off the shortcuts that skip work known to do
	// nothing (see nothingToServe): the differential test sets it on a
	// reference pool and checks that it behaves exactly as one with them.
	// It sits in the padding after the flags above, costing no byte.
	noFastPaths bool
	Key         tokens.Key
	Seed        uint64
}

// ownFields splits cfg into its own fields and the rest (own fields zero).
func ownFields(cfg PoolConfig) (own poolCfg, rest PoolConfig) {
	own = poolCfg{Key: cfg.Key, Seed: cfg.Seed, UsesToken: cfg.UsesToken, NeedsPermit: cfg.NeedsPermit}
	cfg.Key, cfg.Seed, cfg.UsesToken, cfg.NeedsPermit = "", 0, false, false
	return own, cfg
}

// whole returns the configuration as one PoolConfig.
func (c *poolCfg) whole() PoolConfig {
	cfg := *c.PoolConfig
	cfg.Key, cfg.Seed, cfg.UsesToken, cfg.NeedsPermit = c.Key, c.Seed, c.UsesToken, c.NeedsPermit
	return cfg
}
