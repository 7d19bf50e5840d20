// Package foreign tests sim/tds with TDS clients written outside this
// project and outside Go, against `idpool tds`:
//
//   - Node's tedious (JavaScript), driven by node/client.js: SQL and token
//     logins, encryption off, negotiated in PRELOGIN (TDS 7.4) and TLS-first
//     (TDS 8.0), parameters, transactions, an error, the statements after
//     an error in a batch (and EXEC sp_executesql written in one) and a
//     cancelled WAITFOR;
//   - FreeTDS's tsql (C), fed batches on stdin: SQL logins (right and wrong
//     password, TDS versions refused), values of several types, transactions
//     and @@TRANCOUNT, errors with their numbers and what of a batch runs
//     after each (SET XACT_ABORT too), EXEC sp_executesql written in a
//     batch, session state over several batches, values and batches
//     larger than a packet, and every FreeTDS encryption setting against
//     each --encryption mode (the certificate checked when FreeTDS
//     requires TLS); one test serves sim/tds in its own
//     process instead, to ask the server which of those sessions it
//     encrypted. FreeTDS 1.3 has no TDS 8.0 and no token (FEDAUTH) login,
//     and tsql drops the connection instead of sending ATTENTION when a
//     query times out, so those are left to tedious;
//   - FreeTDS's freebcp (same package): a bulk copy of a file into a
//     table, whose BULK_LOAD message ends without a DONE token.
//
// .ci/install-tds-client.sh installs both (npm ci in node/, from the
// committed package-lock.json; the Debian package freetds-bin); without a
// client its tests skip, unless IDPOOL_REQUIRE_FOREIGN=1 (set by .ci/run),
// when they fail.
package foreign
