package pgtest

// Option changes how Launch sets up a server.
type Option func(*options)

type options struct {
	settings [][2]string
	tls      bool
}

// WithSetting adds a postgresql.conf setting, written after pgtest's own, so
// it overrides them: WithSetting("log_connections", "off") turns login
// logging off, WithSetting("max_connections", "20") lowers the server's
// connection budget. value is written as is: quote strings ('...').
func WithSetting(name, value string) Option {
	return func(o *options) { o.settings = append(o.settings, [2]string{name, value}) }
}
