// Debian's libsqlite3 is built with SQLITE_ENABLE_PREUPDATE_HOOK (and SESSION); sqlite3.h
// declares those APIs only when the macros are defined before it is included. The store's
// changelog capture uses the pre-update hook (see ChangeCapture.swift).
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>
