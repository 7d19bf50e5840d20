package messages

// Evict asks the pool of Discriminator to drop every connection it holds
// now (see actors.Evict). Done receives one value once they are all
// closed; it must have room for that value, so the pool never blocks on it.
// The manager forwards it; a key without a pool is answered at once.
type Evict struct {
	Discriminator string
	Done          chan<- struct{}
}

// Reset asks the manager to Evict every live pool; it answers on Reply.
type Reset struct {
	Reply chan ResetReply
}

// ResetReply says how many pools a Reset asked to Evict; each of them sends
// one value on Done (made with room for them all) once it is done.
type ResetReply struct {
	Pools int
	Done  <-chan struct{}
}
