// Package shrink keeps a Go map from holding on to the room it once grew
// to. A Go map never gives back its buckets when entries are deleted, so a
// table of pools that once held 10,000 identities would keep their room for
// good; Map copies it into one sized to its contents once enough deletions
// have piled up. The manager's maps are owned by one actor each, so no
// caller shares a map while it is replaced.
package shrink

// minDeletes is how many deletions Map lets pass before it considers a
// copy: small maps are not worth the work.
const minDeletes = 1024

// Map counts one deletion from mp in *deletes and returns mp, or, once the
// deletions reach minDeletes and twice mp's length, a copy sized to its
// contents (and resets the count). Call it after each delete and keep the
// result.
func Map[K comparable, V any](mp map[K]V, deletes *int) map[K]V {
	*deletes++
	if *deletes < minDeletes || *deletes < 2*len(mp) {
		return mp
	}
	*deletes = 0
	next := make(map[K]V, len(mp))
	for k, v := range mp {
		next[k] = v
	}
	return next
}
