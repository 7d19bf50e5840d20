package postgres

// Scope is the Entra ID scope of access tokens for Azure Database for
// PostgreSQL (flexible server).
const Scope = "https://ossrdbms-aad.database.windows.net/.default"
