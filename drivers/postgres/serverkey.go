package postgres

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ServerKey returns the server part of a pool key for dsn:
// "host:port/database", with the host lower-cased (host names are not
// case-sensitive; database names are) and without user or credentials. With
// several hosts in the DSN, the first one names the server.
//
// The key leaves out the user, so pools of one server and database share a
// key whatever DSN user they log in as: build one Dialer (and key space) per
// DSN, or add the user to the discriminator, when SQL logins of several users
// meet in one manager.
func ServerKey(dsn string) (string, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	return serverKey(cfg)
}

func serverKey(cfg *pgx.ConnConfig) (string, error) {
	key := net.JoinHostPort(strings.ToLower(cfg.Host), strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
	if strings.ContainsRune(key, 0) {
		// NUL separates the server from the identity in a pool key.
		return "", errors.New("postgres: the DSN's host or database contains a NUL byte")
	}
	return key, nil
}

// errBadDSN is all a DSN parse error says: pgx's own message quotes the DSN,
// and its password masking is best effort on malformed input.
var errBadDSN = errors.New("postgres: cannot parse the DSN (details withheld: they would quote it; check it with pgx.ParseConfig)")

func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errBadDSN
	}
	return cfg, nil
}
