/**
 * The SQLite send ledger keeps the send-ledger contract (test/adapters/send-ledger-contract.ts).
 */
import { openSqlite } from "../../functions/adapters/sqlite-database.js";
import { SqliteSendLedger } from "../../functions/adapters/sqlite-send-ledger.js";
import { describeSendLedgerContract } from "./send-ledger-contract.js";

describeSendLedgerContract("SqliteSendLedger", async () => {
  const db = openSqlite(":memory:");
  return {
    ledger: new SqliteSendLedger(db),
    close: async () => {
      db.close();
    },
  };
});
