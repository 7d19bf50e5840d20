package sqlserver

// DBSystemName names the database in idpool's spans (db.system.name, as
// the OpenTelemetry semantic conventions spell it); see
// manager.DBSystemNamer.
func (Dialer) DBSystemName() string { return "microsoft.sql_server" }
