package postgres

import "github.com/idpool/idpool/tokens"

// Scope is the Entra ID scope of access tokens for Azure Database for
// PostgreSQL.
//
// Deprecated: use tokens.ScopePostgreSQL, the one definition; Scope is an
// alias of it, kept so that existing code builds.
const Scope = tokens.ScopePostgreSQL
