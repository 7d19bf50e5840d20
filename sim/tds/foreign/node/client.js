// client.js drives a simulated SQL Server with tedious, a TDS client written
// in JavaScript by people who never saw sim/tds. sim/tds/foreign's Go test
// runs it against `idpool tds` and checks its output.
//
// Usage: node client.js '<json config>'
//   {host, port, caFile, encrypt: true|false|"strict", login: "sql"|"token",
//    user, password,                       // SQL login
//    authority, tenant, clientId, secret,  // service principal for a token
//    expectLoginError: "text"}             // the login must fail with this
// Prints "ok <step>" per step and exits 0, or "FAIL <step>: <error>" and 1.
'use strict';

const fs = require('fs');
const https = require('https');
const { Connection, Request, TYPES } = require('tedious');

const cfg = JSON.parse(process.argv[2]);
let step = 'start';

function fail(err) {
  console.log(`FAIL ${step}: ${err && err.message ? err.message : err}`);
  process.exit(1);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// token gets an access token for Azure SQL from the local Entra ID with the
// client-credentials grant, trusting only the printed certificates file.
function token() {
  const body = new URLSearchParams({
    grant_type: 'client_credentials', client_id: cfg.clientId, client_secret: cfg.secret,
    scope: 'https://database.windows.net/.default',
  }).toString();
  const url = new URL(`${cfg.tenant}/oauth2/v2.0/token`, cfg.authority);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: 'POST', ca: fs.readFileSync(cfg.caFile),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`token endpoint: ${res.statusCode} ${data}`));
        resolve(JSON.parse(data).access_token);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function connect() {
  const authentication = cfg.login === 'token'
    ? { type: 'azure-active-directory-access-token', options: { token: await token() } }
    : { type: 'default', options: { userName: cfg.user, password: cfg.password } };
  const options = {
    port: cfg.port, database: 'master', encrypt: cfg.encrypt, trustServerCertificate: false,
    cryptoCredentialsDetails: { ca: fs.readFileSync(cfg.caFile) },
    connectTimeout: 10000, requestTimeout: 15000, cancelTimeout: 5000,
  };
  if (cfg.tdsVersion) options.tdsVersion = cfg.tdsVersion;
  if (cfg.encrypt === 'strict') options.serverName = 'localhost'; // the certificate's name
  const conn = new Connection({ server: cfg.host, authentication, options });
  await new Promise((resolve, reject) => {
    conn.on('error', () => {}); // reported through connect's callback or the request
    conn.connect((err) => (err ? reject(err) : resolve()));
  });
  return conn;
}

// query runs sql (with params: through sp_executesql) and returns its rows
// as objects.
function query(conn, sql, params = []) {
  return new Promise((resolve, reject) => {
    const rows = [];
    const req = new Request(sql, (err) => (err ? reject(err) : resolve(rows)));
    for (const [name, type, value] of params) req.addParameter(name, type, value);
    req.on('row', (cols) => {
      const row = {};
      cols.forEach((c, i) => { row[c.metadata.colName || `c${i}`] = c.value; });
      rows.push(row);
    });
    if (params.length) conn.execSql(req); else conn.execSqlBatch(req);
  });
}

// events runs sql (with params: through sp_executesql) and lists, in
// order, what tedious reported: each error message, row and DONE token
// (with "more" when DONE_MORE is set). It resolves with the list and the
// request's error.
function events(conn, sql, params = []) {
  return new Promise((resolve) => {
    const log = [];
    const onError = (e) => log.push(`error ${e.number}`);
    conn.on('errorMessage', onError);
    const req = new Request(sql, (err) => {
      conn.removeListener('errorMessage', onError);
      resolve({ log, err });
    });
    for (const [name, type, value] of params) req.addParameter(name, type, value);
    req.on('row', (cols) => log.push(`row ${cols.map((c) => c.value).join(' ')}`));
    for (const ev of ['done', 'doneInProc', 'doneProc']) {
      req.on(ev, (rowCount, more) => log.push(more ? `${ev} more` : ev));
    }
    if (params.length) conn.execSql(req); else conn.execSqlBatch(req);
  });
}

function same(got, want, what) {
  check(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

function tx(conn, op) {
  return new Promise((resolve, reject) => conn[op]((err) => (err ? reject(err) : resolve())));
}

async function main() {
  step = 'connect';
  let conn;
  try {
    conn = await connect();
  } catch (err) {
    if (cfg.expectLoginError) {
      check(String(err.message).includes(cfg.expectLoginError), `login error ${JSON.stringify(err.message)} lacks ${JSON.stringify(cfg.expectLoginError)}`);
      console.log(`ok login refused: ${err.message}`);
      return;
    }
    throw err;
  }
  check(!cfg.expectLoginError, 'the login succeeded but should have been refused');
  console.log('ok connect (tedious sent SET LANGUAGE and SET DATEFORMAT in its initial batch)');

  step = 'query';
  const [who] = await query(conn, 'SELECT SUSER_SNAME() AS who, DB_NAME() AS db, @@SPID AS spid');
  const want = cfg.login === 'token' ? cfg.clientId : cfg.user;
  check(who.who === want, `SUSER_SNAME() = ${who.who}, want ${want}`);
  check(who.db === 'master', `DB_NAME() = ${who.db}`);
  console.log(`ok query as ${who.who}`);

  step = 'parameters';
  const [p] = await query(conn, 'SELECT @n AS n, @s AS s', [['n', TYPES.Int, 41], ['s', TYPES.NVarChar, 'café']]);
  check(p.n === 41 && p.s === 'café', `parameters came back as ${JSON.stringify(p)}`);
  // A VarChar travels in the code page of the server's collation (1252:
  // "é" is the byte 0xE9), which the server must read as such.
  const [v] = await query(conn, 'SELECT @v AS v', [['v', TYPES.VarChar, 'café €']]);
  check(v.v === 'café €', `a VarChar parameter came back as ${JSON.stringify(v.v)}`);
  console.log('ok parameters');

  step = 'use';
  await query(conn, 'USE tempdb');
  const [db] = await query(conn, 'SELECT DB_NAME() AS db');
  check(db.db === 'tempdb', `after USE, DB_NAME() = ${db.db}`);
  console.log('ok use');

  step = 'transaction';
  const table = `foreign_${process.pid}_${Date.now()}`;
  await query(conn, `CREATE TABLE ${table} (id int)`);
  await tx(conn, 'beginTransaction');
  await query(conn, `INSERT INTO ${table} VALUES (1)`);
  const [inside] = await query(conn, 'SELECT @@TRANCOUNT AS n');
  check(inside.n === 1, `@@TRANCOUNT in a transaction = ${inside.n}`);
  await tx(conn, 'rollbackTransaction');
  await tx(conn, 'beginTransaction');
  await query(conn, `INSERT INTO ${table} VALUES (2)`);
  await tx(conn, 'commitTransaction');
  const [count] = await query(conn, `SELECT COUNT(*) AS n FROM ${table}`);
  check(count.n === 1, `rows after a rollback and a commit = ${count.n}, want 1`);
  // transaction() names its transaction ("_tedious_<hex>"): a TM BEGIN and
  // COMMIT whose name is a B_VARBYTE.
  await new Promise((resolve, reject) => conn.transaction((err, done) => {
    if (err) return reject(err);
    query(conn, `INSERT INTO ${table} VALUES (3)`).then(
      () => done(null, (e) => (e ? reject(e) : resolve())),
      (e) => done(e, () => reject(e)));
  }));
  const [named] = await query(conn, `SELECT COUNT(*) AS n FROM ${table}`);
  check(named.n === 2, `rows after a named transaction = ${named.n}, want 2`);
  console.log('ok transaction');

  step = 'savepoint';
  // transaction() inside an open transaction sets a savepoint (TM_SAVE_XACT)
  // and, when its work fails, rolls back to it (TM_ROLLBACK_XACT with the
  // savepoint's name): the outer transaction goes on and commits the rest.
  const nested = (fail) => new Promise((resolve, reject) => conn.transaction((err, done) => {
    if (err) return reject(err);
    query(conn, `INSERT INTO ${table} VALUES (4)`).then(
      () => done(fail ? new Error('inner work failed') : null, (e) => resolve(e)),
      (e) => done(e, () => reject(e)));
  }));
  await new Promise((resolve, reject) => conn.transaction((err, done) => {
    if (err) return reject(err);
    (async () => {
      await query(conn, `INSERT INTO ${table} VALUES (5)`);
      const e = await nested(true);
      check(e && e.message === 'inner work failed', `the failed inner transaction ended with ${e && e.message}`);
      check(conn.inTransaction, 'tedious left the transaction after a rollback to a savepoint');
      const [tc] = await query(conn, 'SELECT @@TRANCOUNT AS n');
      check(tc.n === 1, `@@TRANCOUNT after a rollback to a savepoint = ${tc.n}, want 1`);
      const [mid] = await query(conn, `SELECT COUNT(*) AS n FROM ${table}`);
      check(mid.n === 3, `rows after a rollback to a savepoint = ${mid.n}, want 3`);
      check(!(await nested(false)), 'the inner transaction failed');
    })().then(() => done(null, (e) => (e ? reject(e) : resolve())), (e) => done(e, () => reject(e)));
  }));
  const [kept] = await query(conn, `SELECT COUNT(*) AS n FROM ${table}`);
  check(kept.n === 4, `rows after an outer commit around a rolled-back savepoint = ${kept.n}, want 4`);
  console.log('ok savepoint');

  step = 'prepare';
  // prepare, execute and unprepare: the RPCs sp_prepare (its handle an
  // OUTPUT parameter, a RETURNVALUE token), sp_execute and sp_unprepare, by
  // procedure id.
  {
    const rows = [];
    let pending = null;
    const req = new Request('SELECT @a AS a, @b AS b', (err) => { const p = pending; pending = null; p(err); });
    req.addParameter('a', TYPES.Int);
    req.addParameter('b', TYPES.NVarChar);
    req.on('row', (cols) => rows.push(cols.map((c) => c.value)));
    const run = (fn) => new Promise((resolve, reject) => { pending = (err) => (err ? reject(err) : resolve()); fn(); });
    await new Promise((resolve, reject) => { req.once('prepared', resolve); req.once('error', reject); conn.prepare(req); });
    check(Number.isInteger(req.handle) && req.handle > 0, `sp_prepare's handle = ${req.handle}`);
    await run(() => conn.execute(req, { a: 1, b: 'one' }));
    await run(() => conn.execute(req, { a: 2, b: 'two' }));
    same(rows, [[1, 'one'], [2, 'two']], 'the rows of a prepared statement');
    await run(() => conn.unprepare(req));
    let gone = null;
    try {
      await run(() => conn.execute(req, { a: 3, b: 'three' }));
    } catch (e) {
      gone = e;
    }
    check(gone && gone.number === 8179, `sp_execute after sp_unprepare: ${gone && gone.message}`);
  }
  console.log('ok prepare');

  step = 'error';
  try {
    await query(conn, 'SELECT COUNT(*) FROM no_such_table');
    throw new Error('a query on a missing table succeeded');
  } catch (err) {
    check(err.number === 208, `error number ${err.number}: ${err.message}`);
  }
  const [after] = await query(conn, 'SELECT 1 AS one');
  check(after.one === 1, 'the connection did not recover from the error');
  console.log('ok error and recovery');

  step = 'batch errors';
  // A statement-terminating error: the batch carries on (sim/tds/errorscope.go).
  let r = await events(conn, 'ROLLBACK; SELECT 1 AS a');
  same(r.log, ['error 3903', 'done more', 'row 1', 'done'], 'ROLLBACK; SELECT 1');
  check(r.err && r.err.number === 3903, `the request's error: ${r.err && r.err.message}`);
  // The same through sp_executesql as an RPC, its statements in DONEINPROC.
  r = await events(conn, 'ROLLBACK; SELECT @n AS n', [['n', TYPES.Int, 5]]);
  same(r.log, ['error 3903', 'doneInProc more', 'row 5', 'doneInProc more', 'doneProc'], 'RPC ROLLBACK; SELECT @n');
  // A scope-aborting error ends the batch.
  r = await events(conn, 'SELECT 1 AS a; SELECT COUNT(*) FROM no_such_table; SELECT 2 AS b');
  same(r.log, ['row 1', 'done more', 'error 208', 'done'], 'an invalid object mid-batch');
  // EXEC sp_executesql written in the batch, then the next statement.
  r = await events(conn, "EXEC sp_executesql N'SELECT @p AS p, @q AS q', N'@p int, @q nvarchar(10)', 7, @q = N'it''s'; SELECT 2 AS b");
  same(r.log, ["row 7 it's", 'doneInProc more', 'doneProc more', 'row 2', 'done'], 'EXEC sp_executesql in a batch');
  check(!r.err, `EXEC sp_executesql failed: ${r.err && r.err.message}`);
  console.log('ok batch errors');

  step = 'cancel';
  const started = Date.now();
  const cancelled = new Promise((resolve) => {
    const req = new Request("WAITFOR DELAY '00:00:30'", (err) => resolve(err));
    conn.execSqlBatch(req);
    // Cancel once the request is on the wire; the server must acknowledge
    // the ATTENTION with a DONE(ATTN) message of its own.
    setTimeout(() => conn.cancel(), 200);
  });
  const err = await cancelled;
  check(err && err.code === 'ECANCEL', `cancelled WAITFOR ended with ${err && (err.code + ' ' + err.message)}`);
  check(Date.now() - started < 10000, 'the cancel took longer than 10 s');
  const [again] = await query(conn, 'SELECT 2 AS two');
  check(again.two === 2, 'the connection did not survive the cancel');
  console.log('ok cancelled WAITFOR');

  step = 'close';
  await new Promise((resolve) => { conn.on('end', resolve); conn.close(); });
  console.log('ok close');
}

main().then(() => process.exit(0), fail);
