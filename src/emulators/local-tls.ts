/**
 * The emulator speaks HTTPS (the Digital Twins SDK refuses bearer tokens over http). On first
 * start it makes a local CA and a server certificate for localhost signed by it, and keeps both,
 * so clients trust the CA once: NODE_EXTRA_CA_CERTS=<dir>/ca.pem, or DIGITAL_TWINS_CA_FILE.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  caFile: string | undefined;
}

function keyPair() {
  // Node makes RSA keys in milliseconds; forge only signs.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function certificate(options: { subject: string; publicPem: string; issuer: forge.pki.Certificate | undefined; signerPem: string; ca: boolean; years: number }): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(options.publicPem);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + options.years * 365 * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: options.subject }, { name: 'organizationName', value: 'manufacturing-twins local emulators' }];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer ? options.issuer.subject.attributes : subject);
  cert.setExtensions(
    options.ca
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
        ],
  );
  cert.sign(forge.pki.privateKeyFromPem(options.signerPem), forge.md.sha256.create());
  return cert;
}

export function makeTlsMaterial(): Omit<TlsMaterial, 'caFile'> {
  const ca = keyPair();
  const caCert = certificate({ subject: 'manufacturing-twins local CA', publicPem: ca.publicPem, issuer: undefined, signerPem: ca.privatePem, ca: true, years: 10 });
  const server = keyPair();
  const serverCert = certificate({ subject: 'localhost', publicPem: server.publicPem, issuer: caCert, signerPem: ca.privatePem, ca: false, years: 2 });
  return { caPem: forge.pki.certificateToPem(caCert), certPem: forge.pki.certificateToPem(serverCert), keyPem: server.privatePem };
}

/** Loads the CA and server certificate from `dir`, making them on first use. */
export function ensureTlsMaterial(dir: string): TlsMaterial {
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') };
  if (!existsSync(files.ca) || !existsSync(files.cert) || !existsSync(files.key)) {
    mkdirSync(dir, { recursive: true });
    const made = makeTlsMaterial();
    writeFileSync(files.key, made.keyPem, { mode: 0o600 });
    writeFileSync(files.cert, made.certPem);
    writeFileSync(files.ca, made.caPem);
  }
  return { caPem: readFileSync(files.ca, 'utf8'), certPem: readFileSync(files.cert, 'utf8'), keyPem: readFileSync(files.key, 'utf8'), caFile: files.ca };
}
