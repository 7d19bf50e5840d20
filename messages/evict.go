package messages

// Evict asks the pool of Discriminator to drop every connection it holds
// now (see actors.Evict). Done receives one value once they are all
// closed; it must have room for that value, so the pool never blocks on it.
//
// Sent to the manager, it carries Reply instead: the manager sends it on to
// every pool of the key that has not drained (the live one, and one closing
// after its retirement), with a Done of its own, and answers on Reply how
// many will answer, as for a Reset.
type Evict struct {
	Discriminator string
	Done          chan<- struct{}
	Reply         chan ResetReply
}

// Reset asks the manager to Evict every pool that has not drained; it
// answers on Reply.
type Reset struct {
	Reply chan ResetReply
}

// ResetReply says how many pools a Reset (or an Evict sent to the manager)
// asked to Evict; each of them sends one value on Done (made with room for
// them all) once it is done.
type ResetReply struct {
	Pools int
	Done  <-chan struct{}
}
