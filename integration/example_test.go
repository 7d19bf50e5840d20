package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	gormsqlserver "gorm.io/driver/sqlserver"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// The README's "With GORM, sqlx and sqlc" section shows withGORM and
// withSQLX word for word (TestReadmeShowsTheExamples checks it); Example_gorm
// and Example_sqlx run them against sim/tds. GORM's logger is off because
// its default one prints slow queries (200 ms) to stdout, which a loaded
// machine would turn into a failed example.

// readme:gorm:begin
// withGORM opens GORM over the facade (its automatic ping needs no
// identity) and runs a query as orders.
func withGORM(ctx context.Context, db *manager.DB, orders tokens.Identity) (string, error) {
	gdb, err := gorm.Open(gormsqlserver.New(gormsqlserver.Config{Conn: db.DB}),
		&gorm.Config{Logger: logger.Discard}) // quiet here; any logger works
	if err != nil {
		return "", err
	}
	var who string
	err = gdb.WithContext(tokens.WithIdentity(ctx, orders)).Raw("SELECT SUSER_SNAME()").Scan(&who).Error
	return who, err
}

// readme:gorm:end

// readme:sqlx:begin
// withSQLX runs sqlx over the facade: a transaction begun as orders, whose
// calls (the context-less ones too) run on its lease.
func withSQLX(ctx context.Context, db *manager.DB, orders tokens.Identity) (string, error) {
	dbx := sqlx.NewDb(db.DB, "sqlserver") // "pgx" on PostgreSQL: sqlx picks placeholders by name
	tx, err := dbx.BeginTxx(tokens.WithIdentity(ctx, orders), nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var who string
	if err := tx.Get(&who, "SELECT SUSER_SNAME()"); err != nil { // on the transaction's lease
		return "", err
	}
	return who, tx.Commit()
}

// readme:sqlx:end

// exampleServer starts sim/tds, accepting a token "tok:<login>" as <login>,
// and opens the facade on it; orders is an identity with such a token.
func exampleServer() (db *manager.DB, orders tokens.Identity, stop func()) {
	srv, err := tds.Start(tds.Options{VerifyToken: func(token string) (string, time.Time, error) {
		login, ok := strings.CutPrefix(token, "tok:")
		if !ok {
			return "", time.Time{}, errors.New("not a test token")
		}
		return login, time.Now().Add(time.Hour), nil
	}})
	if err != nil {
		panic(err)
	}
	u := url.URL{Scheme: "sqlserver", Host: srv.Addr(), RawQuery: "database=appdb&encrypt=disable"}
	db, err = sqlserver.OpenDB(u.String(), manager.Config{MaxSize: 5})
	if err != nil {
		panic(err)
	}
	orders = tokenIdentity("orders-app", "tok:orders-app")
	return db, orders, func() { _ = db.Close(); _ = srv.Close() }
}

func Example_gorm() {
	db, orders, stop := exampleServer()
	defer stop()
	who, err := withGORM(context.Background(), db, orders)
	fmt.Println(who, err)
	fmt.Println(db.Ping()) // GORM's ping with no identity left the *sql.DB open
	// Output:
	// orders-app <nil>
	// <nil>
}

func Example_sqlx() {
	db, orders, stop := exampleServer()
	defer stop()
	fmt.Println(withSQLX(context.Background(), db, orders))
	// Output: orders-app <nil>
}
