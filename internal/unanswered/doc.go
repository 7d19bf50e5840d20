// Package unanswered gives tests a loopback address whose TCP connects hang,
// as those to a host behind a firewall that drops them do: the way to test
// that a dial or a ping keeps to its own timeout rather than the system's
// (two minutes). Linux only: it relies on Linux dropping the SYNs a full
// listen backlog refuses.
package unanswered
