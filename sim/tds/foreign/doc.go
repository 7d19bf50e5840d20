// Package foreign tests sim/tds with a TDS client written outside this
// project and outside Go: Node's tedious, driven by node/client.js against
// `idpool tds`. .ci/install-tds-client.sh installs it (npm ci in node/, from
// the committed package-lock.json); without it the tests skip, unless
// IDPOOL_REQUIRE_FOREIGN=1 (set by .ci/run), when they fail.
package foreign
