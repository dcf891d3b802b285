import { openKvStore } from "../lib/store/kv.ts";
import { storeContract } from "./store_contract.ts";

storeContract("kv", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imchat-kv-test-" });
  const path = `${dir}/chat.kv`;
  return {
    open: (retention) => openKvStore(path, retention),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
});
