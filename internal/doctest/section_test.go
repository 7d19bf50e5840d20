package doctest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSectionRunsFromItsHeadingToTheNext(t *testing.T) {
	doc := "# T\n\n## A\none\n### sub\ntwo\n## A b\nthree\n## Last\nfour\n"
	s, ok := Section(doc, "A")
	assert.True(t, ok)
	assert.Equal(t, "## A\none\n### sub\ntwo", s, "a deeper heading stays in; a heading that only starts with the title is another section")
	s, ok = Section(doc, "Last")
	assert.True(t, ok)
	assert.Equal(t, "## Last\nfour\n", s)
	_, ok = Section(doc, "Missing")
	assert.False(t, ok)
}
