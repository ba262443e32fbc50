import { randomUUID } from 'node:crypto';
import { invalidArgument } from '@micro-os/core';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK } from 'jose';

/** The asymmetric algorithms access tokens may be signed with. */
export type SigningAlgorithm = 'EdDSA' | 'ES256';
export const signingAlgorithms: readonly SigningAlgorithm[] = ['EdDSA', 'ES256'];

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

interface KeyEntry {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  privateKey: PrivateKey;
  /** Epoch ms after which the public key leaves the JWKS; undefined while it signs or is unbounded. */
  retireAt: number | undefined;
}

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: PrivateKey;
}

/**
 * The signing keys of one auth instance: the current one signs, the previous ones stay in the JWKS until
 * every token they signed has expired, then they are dropped.
 */
export class KeyRing {
  readonly #alg: SigningAlgorithm;
  #keys: KeyEntry[] = [];
  #ready: Promise<void> | undefined;

  constructor(alg: SigningAlgorithm) {
    if (!signingAlgorithms.includes(alg))
      throw invalidArgument(`algorithm must be one of ${signingAlgorithms.join(', ')}, got ${String(alg)}`);
    this.#alg = alg;
  }

  async current(): Promise<SigningKey> {
    this.#ready ??= this.#add();
    await this.#ready;
    const key = this.#keys[this.#keys.length - 1] as KeyEntry;
    return { kid: key.kid, alg: key.alg, privateKey: key.privateKey };
  }

  /** Starts signing with a new key; the old one stays verifiable for `keepPrevious` ms. */
  async rotate(keepPrevious: number): Promise<string> {
    if (!(keepPrevious >= 0 && Number.isFinite(keepPrevious)))
      throw invalidArgument(`keepPrevious must be >= 0 ms, got ${keepPrevious}`);
    await this.current();
    const retireAt = Date.now() + keepPrevious;
    for (const key of this.#keys) key.retireAt = Math.min(key.retireAt ?? retireAt, retireAt);
    this.#ready = this.#add();
    await this.#ready;
    return (this.#keys[this.#keys.length - 1] as KeyEntry).kid;
  }

  /** The public keys still valid for verification. */
  async jwks(): Promise<JSONWebKeySet> {
    await this.current();
    const now = Date.now();
    this.#keys = this.#keys.filter((k) => k.retireAt === undefined || k.retireAt > now);
    return { keys: this.#keys.map((k) => ({ ...k.publicJwk })) };
  }

  async #add(): Promise<void> {
    const { publicKey, privateKey } = await generateKeyPair(
      this.#alg,
      this.#alg === 'EdDSA' ? { crv: 'Ed25519' } : {},
    );
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: this.#alg, use: 'sig' };
    this.#keys.push({ kid, alg: this.#alg, publicJwk, privateKey, retireAt: undefined });
  }
}
