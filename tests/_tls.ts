/**
 * Test certificates made at test time with `openssl` (nothing secret is committed): a
 * private CA and a server certificate for `localhost` and 127.0.0.1 signed by it.
 *
 * @module
 */

/** PEM files of a test CA and server; disposing removes them. */
export interface TestCertificates extends AsyncDisposable {
  /** Paths of the server's certificate chain and key. */
  cert: string;
  key: string;
  /** The CA certificate (PEM text) clients must trust. */
  ca: string;
}

/** Makes a CA and a server certificate in a temporary directory. */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "imchat-tls-" });
  const openssl = async (args: string[]) => {
    const { code, stderr } = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
    }
  };
  try {
    const key = ["-newkey", "rsa:2048", "-nodes"];
    await openssl([
      "req",
      "-x509",
      ...key,
      "-days",
      "1",
      "-subj",
      "/CN=test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    ]);
    await openssl([
      "req",
      ...key,
      "-subj",
      "/CN=localhost",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    ]);
    await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    await openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
      "-out",
      "server.pem",
    ]);
    return {
      cert: `${dir}/server.pem`,
      key: `${dir}/server.key`,
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}
