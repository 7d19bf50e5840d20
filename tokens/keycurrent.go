package tokens

// A key learned from a token (NewTokenKeyed) names a pool: that of the
// identity whose first token it was. Whoever else learned it (another
// token-keyed identity whose source returned that same token first) would
// be served that pool's connections, opened with the first identity's
// newer tokens, for as long as it kept its Identity value: a pool hit mints
// nothing, so nothing asked whether its own source could still mint a
// token at all. Judged with a check, a learned key therefore stands only
// while the check accepts the newest token the identity's own source
// returned; after that (the token expired), the identity's source must
// show a token the check accepts before the key is returned again.

// KeyCurrent reports whether ResolveKeyChecked(ctx, check) would return
// at once, minting nothing: the identity needs no token to know its key,
// or it learned it from a token and check accepts the newest token (the
// one expiring last) its own source has returned since: in learning the
// key, or in a pool's mint. A nil check refuses a token that has expired
// or has no known expiry on the system clock. It is an atomic load and a
// call of check, cheap enough for every acquire (manager.Acquire asks it
// with a check on its Config.Clock before a pool hit).
func (id Identity) KeyCurrent(check func(Token) error) bool {
	k := id.fromToken()
	if k == nil {
		return true
	}
	if check == nil {
		check = unexpiredNow
	}
	return k.disc.Load() != nil && k.current(check)
}

// current reports whether check accepts the newest token recorded.
func (k *tokenDerivedKey) current(check func(Token) error) bool {
	t := k.newest.Load()
	return t != nil && check(*t) == nil
}

// saw records tok as the newest token if it expires later than the one
// recorded (an unknown expiry is the earliest).
func (k *tokenDerivedKey) saw(tok Token) {
	for {
		cur := k.newest.Load()
		if cur != nil && !tok.ExpiresOn.After(cur.ExpiresOn) {
			return
		}
		if k.newest.CompareAndSwap(cur, &tok) {
			return
		}
	}
}
