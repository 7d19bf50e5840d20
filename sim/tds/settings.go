package tds

import "strings"

// Session settings that clients send right after login: USE <db> (clients
// given a database at connect), SET LANGUAGE and SET DATEFORMAT (tedious sends
// both in its initial batch). The simulator keeps them but its behaviour does
// not depend on them; what matters to a client is the reply, which carries
// the ENVCHANGE and INFO tokens SQL Server sends.

// languages are the names SET LANGUAGE accepts: SQL Server's official names
// (sys.syslanguages) keyed by their lower-case name and English alias.
var languages = map[string]string{
	"us_english": "us_english", "english": "us_english",
	"british": "British", "deutsch": "Deutsch", "german": "Deutsch",
	"français": "Français", "french": "Français", "español": "Español", "spanish": "Español",
	"italiano": "Italiano", "italian": "Italiano", "nederlands": "Nederlands", "dutch": "Nederlands",
	"português": "Português", "portuguese": "Português", "日本語": "日本語", "japanese": "日本語",
}

// dateFormats are the orders SET DATEFORMAT accepts.
var dateFormats = map[string]bool{"mdy": true, "dmy": true, "ymd": true, "ydm": true, "myd": true, "dym": true}

// defaultLanguage is the language of every login.
const defaultLanguage = "us_english"

// infoMessage is an INFO token (class 0): informational, not an error.
func infoMessage(number int32, msg string) sqlError {
	return sqlError{Number: number, State: 1, Class: 0, Msg: msg}
}

// execUse switches the session's database: ENVCHANGE(database) and INFO 5701,
// as SQL Server answers USE. The simulator's tables are server-wide, so any
// database name is accepted.
func (s *session) execUse(st useStmt, tb *tokenBuf) {
	old := s.database
	s.database = st.db
	tb.envString(envDatabase, st.db, old)
	tb.message(tokInfo, infoMessage(5701, "Changed database context to '"+st.db+"'."), s.srv.opts.ServerName)
}

// setLanguage answers SET LANGUAGE with ENVCHANGE(language) and INFO 5703.
func (s *session) setLanguage(name string, tb *tokenBuf) error {
	lang, ok := languages[strings.ToLower(name)]
	if !ok {
		return newExecError(2732, 16, "'%s' is not an official language name.", name)
	}
	old := s.language
	if old == "" {
		old = defaultLanguage
	}
	s.language = lang
	tb.envString(envLanguage, lang, old)
	tb.message(tokInfo, infoMessage(5703, "Changed language setting to "+lang+"."), s.srv.opts.ServerName)
	return nil
}

// setDateFormat checks the date order; SQL Server sends no ENVCHANGE for it.
func (s *session) setDateFormat(order string) error {
	order = strings.ToLower(order)
	if !dateFormats[order] {
		return newExecError(2741, 16, "SET DATEFORMAT date order '%s' is not supported.", order)
	}
	s.dateFormat = order
	return nil
}
