package actors

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"github.com/idpool/idpool/internal/mailbox"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// architectureDoc returns docs/ARCHITECTURE.md with its runs of white space
// (line breaks included) made single spaces.
func architectureDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/ARCHITECTURE.md")
	require.NoError(t, err)
	return strings.Join(strings.Fields(string(b)), " ")
}

// effectWords are the words of an effect's name, lower case and sorted, so
// that "permit request" and EffRequestPermit compare equal.
func effectWords(words []string) string {
	for i, w := range words {
		w = strings.ToLower(w)
		if w == "withdrawal" {
			w = "withdraw"
		}
		words[i] = w
	}
	sort.Strings(words)
	return strings.Join(words, " ")
}

// TestArchitectureDocListsEveryEffect: docs/ARCHITECTURE.md names every
// effect the state machine decides on (the EffectKind constants of
// effect.go), and no other.
func TestArchitectureDocListsEveryEffect(t *testing.T) {
	doc := architectureDoc(t)
	i := strings.Index(doc, "the `Effect`s it decides on (")
	require.GreaterOrEqual(t, i, 0)
	list := doc[i+len("the `Effect`s it decides on ("):]
	list = list[:strings.Index(list, ")")]
	var documented []string
	for _, item := range strings.Split(list, ", ") {
		// "permit request/return/withdrawal" is three effects.
		head, alts, ok := strings.Cut(item, " ")
		if ok && strings.Contains(alts, "/") {
			for _, a := range strings.Split(alts, "/") {
				documented = append(documented, effectWords([]string{head, a}))
			}
			continue
		}
		documented = append(documented, effectWords(strings.Fields(item)))
	}

	f, err := parser.ParseFile(token.NewFileSet(), "effect.go", nil, 0)
	require.NoError(t, err)
	camel := regexp.MustCompile("[A-Z][a-z]*")
	var kinds []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if name, ok := strings.CutPrefix(n.Name, "Eff"); ok {
					kinds = append(kinds, effectWords(camel.FindAllString(name, -1)))
				}
			}
		}
	}
	require.NotEmpty(t, kinds)
	sort.Strings(documented)
	sort.Strings(kinds)
	assert.Equal(t, kinds, documented, "docs/ARCHITECTURE.md's effects against the EffectKind constants")
}

// TestArchitectureDocStatesTheConstants: the numbers docs/ARCHITECTURE.md
// gives for the pool's state machine and actor are the code's.
func TestArchitectureDocStatesTheConstants(t *testing.T) {
	doc := architectureDoc(t)
	for _, want := range []string{
		fmt.Sprintf("A refused pool asks again after %s", fillRetryAfter),
		fmt.Sprintf("by scanning a queue of up to %d and through an id index beyond", indexAbove),
		fmt.Sprintf("is kept as up to %d (bucket, count) pairs", waitInline),
		fmt.Sprintf("its connection record (%d), the actor (%d)", unsafe.Sizeof(conn{}), unsafe.Sizeof(poolActor{})),
		fmt.Sprintf("every input in %s configurations (`propertyVariants`)", numberWord(t, len(propertyVariants))),
		fmt.Sprintf("`internal/mailbox.LentBatch` (%d) messages", mailbox.LentBatch),
	} {
		assert.True(t, strings.Contains(doc, want), "docs/ARCHITECTURE.md should say %q", want)
	}
	assert.Equal(t, 2, blockAfter, `docs/ARCHITECTURE.md: "two failures in a row start it"`)
	assert.True(t, strings.Contains(doc, "two failures in a row start it"))
}

// numberWord spells n as the docs do, for the small counts they state.
func numberWord(t *testing.T, n int) string {
	t.Helper()
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
	require.Less(t, n, len(words), "a count the docs would give in digits")
	return words[n]
}
