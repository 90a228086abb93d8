import { openSqlite } from "../../functions/adapters/sqlite-database.js";
import { SqliteRequestStore } from "../../functions/adapters/sqlite-request-store.js";
import { describeRequestStoreContract } from "./request-store-contract.js";

describeRequestStoreContract("SqliteRequestStore", async () => {
  const db = openSqlite(":memory:");
  return {
    store: new SqliteRequestStore(db),
    close: async () => {
      db.close();
    },
  };
});
