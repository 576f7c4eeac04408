// Debian's libsqlite3 is built with SQLITE_ENABLE_PREUPDATE_HOOK (and SESSION); sqlite3.h
// declares those APIs only when the macros are defined before it is included. The store's
// changelog capture uses the pre-update hook (see ChangeCapture.swift).
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call. Turns a connection's lookaside
// allocator off (its buffer, about 120 KiB, is written when the connection opens): for
// connections that run no statements of their own, such as the checkpointer's.
static inline int agentcore_sqlite3_lookaside_off(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, (void *)0, 0, 0);
}
