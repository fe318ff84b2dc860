// A real OAuth 2.0 authorization server, a real DPoP client and a real OAuth
// client, for the sender-constrained token tests of tower-jwt-auth (RFC 9449
// DPoP, RFC 8705 certificate-bound tokens) and its protected resource
// metadata (RFC 9728). Started by tests/common/oauth_provider.rs as
//
//   node tests/oauth/server.mjs
//
// It runs two HTTP servers on 127.0.0.1, each on an ephemeral port:
//
// - the provider: oidc-provider, issuer `http://127.0.0.1:<port>`, issuing
//   access tokens by the client_credentials grant: DPoP-bound (`cnf.jkt`),
//   certificate-bound (`cnf["x5t#S256"]`) or plain bearer tokens. They are
//   ES256-signed JWTs for the audience `https://api.test` (the default
//   resource), or opaque tokens for `https://opaque.api.test`, the kind its
//   introspection endpoint answers for (it refuses to introspect JWTs);
// - the control API: JSON in and out, for the tests. It asks the provider for
//   tokens as a client would, with proofs made by the `dpop` library, and keeps
//   the DPoP private keys so that tests can have more proofs made later.
//
// When both listen it prints one line of JSON on stdout,
//
//   {"issuer":"http://127.0.0.1:<port>","jwks_uri":"...","control":"http://127.0.0.1:<port2>"}
//
// and nothing else there (the provider's notices go to stderr). It runs until
// its stdin closes (the test process that started it is gone) or it gets
// SIGTERM or SIGINT. From a terminal: Ctrl-D or Ctrl-C.
//
// The control API. Bodies are JSON objects (an empty body is `{}`); errors are
// `{"error": "..."}` with 400 (bad request), 404 (unknown route or key) or 502
// (the provider refused the token request). `?` marks an optional member;
// `scope` is "read", "write" or "read write" (none by default), `resource`
// the audience (`https://api.test` by default).
//
//   POST /dpop-token   {"alg"?: "ES256"|"EdDSA"|"Ed25519"|"PS256"|"RS256", "scope"?, "resource"?}
//     -> {"access_token","token_type":"DPoP","expires_in","scope"?,"key","alg","jkt","public_jwk"}
//        a fresh key pair (ES256 by default) kept under `key`
//   POST /dpop-key     {"alg"?} -> {"key","alg","jkt","public_jwk"}   a key pair without a token
//   POST /proof        {"key","htm","htu","access_token"?,"nonce"?,"iat_offset"?,"jti"?}
//     -> {"proof"}     `ath` from access_token; iat = now + iat_offset (seconds)
//   POST /mtls-token   {"cert_pem", "scope"?, "resource"?}
//     -> {"access_token","token_type":"Bearer","expires_in","scope"?,"x5t#S256"}
//   POST /bearer-token {"scope"?, "resource"?}
//     -> {"access_token","token_type":"Bearer","expires_in","scope"?}
//   POST /revoke       {"token"} -> {"status"}   revokes a /bearer-token token at the
//                         provider's revocation endpoint (RFC 7009), as its client
//   POST /discover-resource {"url", "resource"?, "token"?}
//     -> {"status","challenges","resource_metadata","well_known_url","metadata",
//         "authorization_server"}, or what was found before a step failed and
//        {"refused": {"step","code","message"}} (still 200): what the OAuth
//        client oauth4webapi finds from the protected resource at `url` (any
//        resource server, such as the crate's under test), as RFC 9728 §5
//        has it. It sends `GET url` with `token` (default: a string that is no
//        token) and expects a 401 whose challenge names `resource_metadata`
//        (step "challenge"); fetches that document and validates it against
//        the resource identifier `resource` (default: `url`, as RFC 9728 §3.3
//        says; step "metadata"); and discovers the first of its
//        `authorization_servers` by OpenID Connect discovery, checking its
//        issuer (step "authorization_server"). `well_known_url` is where the
//        library itself puts `resource`'s metadata (RFC 9728 §3.1). `code`
//        is the library's error code (`OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED`
//        for a `resource` that does not match, ...).
//   GET  /counts       -> the counters below
//   GET  /info         -> endpoints, audiences, algorithms, and the clients that
//                         may call the introspection endpoint: `introspection_client`
//                         (client_secret_basic) and `introspection_client_jwt`
//                         (private_key_jwt: its ES256 private key as PKCS#8 PEM and
//                         kid, and the PEM of a key the provider does not know)

import * as crypto from 'node:crypto';
import { createServer } from 'node:http';

import * as DPoP from 'dpop';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import Provider, { errors } from 'oidc-provider';

// oidc-provider prints its notices with console.info, which writes to stdout:
// stdout carries the ready line alone, so all console output goes to stderr.
for (const method of ['log', 'info', 'debug']) {
  console[method] = console.error.bind(console);
}

const HOST = '127.0.0.1';
/** The resource server whose access tokens are JWTs (the default resource). */
const AUDIENCE = 'https://api.test';
/**
 * A resource server with opaque access tokens: oidc-provider introspects only
 * those ("Structured JWT Tokens cannot be introspected").
 */
const OPAQUE_AUDIENCE = 'https://opaque.api.test';
const TOKEN_FORMATS = { [AUDIENCE]: 'jwt', [OPAQUE_AUDIENCE]: 'opaque' };
/** How access tokens are signed (the provider's EC key). */
const ACCESS_TOKEN_ALG = 'ES256';
const ACCESS_TOKEN_TTL = 600; // seconds
const SCOPES = 'read write';
/** Any token request to the provider gives up after this. */
const PROVIDER_TIMEOUT_MS = 5000;
/** The longest control request body read. */
const MAX_BODY = 64 * 1024;
/**
 * The header a TLS-terminating proxy would set to the client certificate
 * (URL-encoded PEM, as nginx's `$ssl_client_escaped_cert`). The provider
 * trusts it: only right when a proxy strips it from every outside request.
 */
const CLIENT_CERT_HEADER = 'x-client-cert';

const secret = () => crypto.randomBytes(32).toString('base64url');

/**
 * An ES256 key pair of a client that authenticates with private_key_jwt
 * (RFC 7523): its public JWK, registered with the provider, and its private
 * key as PKCS#8 PEM, handed to the tests through GET /info.
 */
async function clientKeyPair() {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const kid = `rs-${crypto.randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { kid, publicJwk, pem: await jose.exportPKCS8(privateKey) };
}
/** The key of the resource server that introspects with private_key_jwt. */
const RESOURCE_SERVER_KEY = await clientKeyPair();
/** A key the provider has never seen: its assertions must be refused. */
const UNREGISTERED_KEY = await clientKeyPair();

// One confidential client per kind of token, each client_secret_basic, so that
// the provider refuses a token request that lacks its binding.
const CLIENTS = {
  bearer: { client_id: 'harness-bearer', client_secret: secret() },
  // DPoP is required of it: no proof, no token.
  dpop: { client_id: 'harness-dpop', client_secret: secret(), dpop_bound_access_tokens: true },
  // Its tokens carry the x5t#S256 of the certificate the "proxy" saw.
  mtls: {
    client_id: 'harness-mtls',
    client_secret: secret(),
    tls_client_certificate_bound_access_tokens: true,
  },
  // No grant at all: a resource server that may call the introspection endpoint.
  resource: { client_id: 'harness-resource-server', client_secret: secret(), grant_types: [] },
  // The same, authenticating with a JWT signed by its private key.
  resourceJwt: {
    client_id: 'harness-resource-server-jwt',
    grant_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [RESOURCE_SERVER_KEY.publicJwk] },
  },
};

// --- counters ----------------------------------------------------------------

const counts = {
  // HTTP requests sent to the provider's token endpoint, retries included.
  token_requests: 0,
  // Tokens obtained, by kind.
  dpop_tokens: 0,
  mtls_tokens: 0,
  bearer_tokens: 0,
  // `use_dpop_nonce` answers of the provider (then the request is sent again
  // with the nonce it gave).
  dpop_nonce_challenges: 0,
  // Proofs made by POST /proof (not those of the token requests).
  proofs: 0,
  // DPoP key pairs kept.
  keys: 0,
  // The provider's own view: grants it issued and refused (its
  // `use_dpop_nonce` answers included).
  provider_grants: 0,
  provider_grant_errors: 0,
  // Requests that reached the provider's introspection endpoint (any client,
  // any answer), counted by a middleware of the provider: what a resource
  // server's introspection cache saves.
  introspection_requests: 0,
  // Requests that reached its revocation endpoint.
  revocation_requests: 0,
};

// --- the provider --------------------------------------------------------------

/** A private signing JWK of the provider, with kid, alg and use. */
async function signingJwk(alg) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}` };
}

/** The client certificate a proxy passed on, or undefined. */
function certificateFromProxyHeader(ctx) {
  const value = ctx.get(CLIENT_CERT_HEADER);
  if (!value) {
    return undefined;
  }
  try {
    return new crypto.X509Certificate(decodeURIComponent(value));
  } catch {
    return undefined;
  }
}

async function startProvider() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const issuer = `http://${HOST}:${server.address().port}`;

  const configuration = {
    clients: Object.values(CLIENTS).map((client) => ({
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES,
      ...client,
    })),
    // One EC key: an RSA key would cost 100-300 ms of every start, and no
    // test needs RS256 from the provider (ID tokens are never issued).
    jwks: { keys: [await signingJwk(ACCESS_TOKEN_ALG)] },
    clientDefaults: { id_token_signed_response_alg: ACCESS_TOKEN_ALG },
    cookies: { keys: [secret()] },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    scopes: SCOPES.split(' '),
    ttl: { ClientCredentials: ACCESS_TOKEN_TTL },
    enabledJWA: {
      // dpop names Ed25519 keys' proofs `Ed25519` (RFC 9864); `EdDSA` is the
      // older name of the same algorithm.
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        // Confidential clients only (all of ours are).
        allowedPolicy: (ctx, client) => client.clientAuthMethod !== 'none',
      },
      dPoP: {
        enabled: true,
        // With a secret the provider makes nonces; requiring them on every
        // request makes each DPoP token request a nonce round trip, so that
        // the harness's nonce handling is always exercised.
        nonceSecret: crypto.randomBytes(32),
        requireNonce: () => true,
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        // No TLS between the harness and the provider: the certificate comes
        // in a header, as from a TLS-terminating proxy.
        getCertificate: certificateFromProxyHeader,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator) {
          const format = Object.hasOwn(TOKEN_FORMATS, resourceIndicator)
            ? TOKEN_FORMATS[resourceIndicator]
            : undefined;
          if (!format) {
            throw new errors.InvalidTarget(`only ${Object.keys(TOKEN_FORMATS).join(' and ')} are served here`);
          }
          return {
            scope: SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: ACCESS_TOKEN_TTL,
            accessTokenFormat: format,
            ...(format === 'jwt' ? { jwt: { sign: { alg: ACCESS_TOKEN_ALG } } } : {}),
          };
        },
      },
    },
  };

  const provider = new Provider(issuer, configuration);
  // Counts the requests of the two endpoints by their paths, which discovery
  // (below) tells; the middleware runs before the provider's routes.
  const paths = {};
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === paths.introspection) {
      counts.introspection_requests += 1;
    } else if (ctx.method === 'POST' && ctx.path === paths.revocation) {
      counts.revocation_requests += 1;
    }
    await next();
  });
  provider.on('grant.success', () => {
    counts.provider_grants += 1;
  });
  provider.on('grant.error', (ctx, error) => {
    counts.provider_grant_errors += 1;
    if (error.error === 'use_dpop_nonce') {
      return; // asked for every DPoP token on purpose
    }
    console.error(`provider grant error: ${error.error ?? error.name}: ${error.error_description ?? error.message}`);
  });
  provider.on('server_error', (ctx, error) => console.error('provider server error:', error));
  server.on('request', provider.callback());

  const discovery = await fetchJson(`${issuer}/.well-known/openid-configuration`);
  paths.introspection = new URL(discovery.introspection_endpoint).pathname;
  paths.revocation = new URL(discovery.revocation_endpoint).pathname;
  return { server, issuer, discovery };
}

async function fetchJson(url, init = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS) });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: 'not_json', error_description: text.slice(0, 200) };
  }
  return Object.assign(body, { [STATUS]: response.status, [HEADERS]: response.headers });
}
const STATUS = Symbol('status');
const HEADERS = Symbol('headers');

// --- the client side: tokens and proofs ----------------------------------------

/** A refusal of the provider, answered with 502 by the control API. */
class ProviderRefused extends Error {}
/** A bad control request (400), or an unknown key (404). */
class BadRequest extends Error {}
class NotFound extends Error {}

/**
 * DPoP key pairs by id. `alg` is the JWS alg its proofs carry; `libraryAlg`
 * the one the dpop library gives them (they differ for `EdDSA` only).
 */
const keys = new Map();

const DPOP_ALGS = {
  ES256: 'ES256',
  PS256: 'PS256',
  RS256: 'RS256',
  Ed25519: 'Ed25519',
  // The same Ed25519 key, its proofs restamped with the older alg name.
  EdDSA: 'Ed25519',
};

async function newDpopKey(alg) {
  const libraryAlg = Object.hasOwn(DPOP_ALGS, alg) ? DPOP_ALGS[alg] : undefined;
  if (!libraryAlg) {
    throw new BadRequest(`alg must be one of ${Object.keys(DPOP_ALGS).join(', ')}`);
  }
  const keyPair = await DPoP.generateKeyPair(libraryAlg);
  const publicJwk = await jose.exportJWK(keyPair.publicKey);
  const jkt = await jose.calculateJwkThumbprint(publicJwk, 'sha256');
  counts.keys += 1;
  const id = `dpop-key-${counts.keys}`;
  const entry = { id, alg, libraryAlg, keyPair, publicJwk, jkt };
  keys.set(id, entry);
  return entry;
}

/**
 * A DPoP proof by the dpop library, with the overrides it has no parameter for
 * applied by `restamp`.
 */
async function makeProof(entry, { htm, htu, nonce, accessToken, iatOffset, jti }) {
  const proof = await DPoP.generateProof(entry.keyPair, htu, htm, nonce, accessToken);
  if (entry.alg === entry.libraryAlg && iatOffset === undefined && jti === undefined) {
    return proof;
  }
  return restamp(proof, entry, { iatOffset, jti });
}

// --- hand-made signing: the only proofs not signed by the dpop library ----------
//
// The library always sets `iat` to now, a random `jti`, and the alg name
// `Ed25519` for Ed25519 keys. For a proof from the past or future, with a
// chosen jti, or with the alg name `EdDSA`, its proof is decoded, those
// members changed, and the result signed again with the same private key by
// jose. Everything else (typ, jwk, htm, htu, nonce, ath) stays the library's.

async function restamp(proof, entry, { iatOffset, jti }) {
  const header = jose.decodeProtectedHeader(proof);
  const claims = jose.decodeJwt(proof);
  header.alg = entry.alg;
  if (iatOffset !== undefined) {
    claims.iat += iatOffset;
  }
  if (jti !== undefined) {
    claims.jti = jti;
  }
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header)
    .sign(entry.keyPair.privateKey);
}

// --- token requests -------------------------------------------------------------

function basicAuth({ client_id: id, client_secret: password }) {
  // RFC 6749 §2.3.1: each part form-urlencoded before base64.
  const encode = (value) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(password)}`).toString('base64')}`;
}

/**
 * A client_credentials token request of `client`, with a DPoP proof of
 * `dpopKey` and/or the client certificate `certPem` (as the proxy header).
 * A `use_dpop_nonce` answer is followed by one more request with the nonce.
 */
async function requestToken(provider, client, { dpopKey, certPem, scope, resource = AUDIENCE }) {
  const tokenEndpoint = provider.discovery.token_endpoint;
  let nonce;
  for (let attempt = 0; ; attempt += 1) {
    const headers = {
      authorization: basicAuth(client),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (dpopKey) {
      headers.dpop = await makeProof(dpopKey, { htm: 'POST', htu: tokenEndpoint, nonce });
    }
    if (certPem) {
      headers[CLIENT_CERT_HEADER] = encodeURIComponent(certPem);
    }
    const form = new URLSearchParams({ grant_type: 'client_credentials', resource });
    if (scope !== undefined) {
      form.set('scope', scope);
    }
    counts.token_requests += 1;
    const body = await fetchJson(tokenEndpoint, { method: 'POST', headers, body: form });
    const status = body[STATUS];
    if (status === 400 && body.error === 'use_dpop_nonce' && dpopKey && attempt === 0) {
      counts.dpop_nonce_challenges += 1;
      nonce = body[HEADERS].get('dpop-nonce') ?? undefined;
      if (nonce) {
        continue;
      }
    }
    if (status !== 200 || typeof body.access_token !== 'string') {
      throw new ProviderRefused(
        `token endpoint answered ${status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim(),
      );
    }
    return body;
  }
}

/** The members of a token response the control API passes on. */
function tokenAnswer(body) {
  const { access_token, token_type, expires_in, scope } = body;
  return { access_token, token_type, expires_in, ...(scope === undefined ? {} : { scope }) };
}

function optionalString(body, name) {
  const value = body[name];
  if (value !== undefined && typeof value !== 'string') {
    throw new BadRequest(`${name} must be a string`);
  }
  return value;
}

function requiredString(body, name) {
  const value = optionalString(body, name);
  if (value === undefined || value === '') {
    throw new BadRequest(`${name} is required`);
  }
  return value;
}

// --- the OAuth client: protected resource metadata (RFC 9728) ----------------------

function urlOf(body, name, fallback) {
  const text = optionalString(body, name) ?? fallback;
  if (text === undefined) {
    throw new BadRequest(`${name} is required`);
  }
  try {
    return new URL(text);
  } catch {
    throw new BadRequest(`${name} is not a URL`);
  }
}

/**
 * oauth4webapi's steps from a refusal to the authorization server (see the
 * route's comment at the top). Every request is bounded in time, follows no
 * redirect (the library's default), and goes to 127.0.0.1 over plain HTTP:
 * the library refuses `http:` unless told (`allowInsecureRequests`), which
 * only these local test servers justify.
 */
async function discoverResource(body) {
  const url = urlOf(body, 'url');
  const expected = urlOf(body, 'resource', url.href);
  const token = optionalString(body, 'token') ?? 'not-a-token';
  const options = () => ({
    [oauth.allowInsecureRequests]: true,
    signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
  });
  const found = {};
  const refused = (step, error) => ({
    ...found,
    refused: { step, code: error.code ?? error.name, message: error.message },
  });

  // Where the library would look for `expected`'s metadata; nothing is sent.
  await oauth.resourceDiscoveryRequest(expected, {
    ...options(),
    [oauth.customFetch]: async (wellKnown) => {
      found.well_known_url = wellKnown;
      return new Response(null, { status: 204 });
    },
  });

  try {
    await oauth.protectedResourceRequest(token, 'GET', url, undefined, undefined, options());
    return refused('challenge', new Error('the resource answered without a challenge'));
  } catch (error) {
    if (!(error instanceof oauth.WWWAuthenticateChallengeError)) {
      return refused('challenge', error);
    }
    found.status = error.status;
    found.challenges = error.cause;
  }
  const named = found.challenges.find((challenge) => challenge.parameters.resource_metadata);
  if (!named) {
    return refused('challenge', new Error('no challenge names resource_metadata'));
  }
  found.resource_metadata = named.parameters.resource_metadata;

  try {
    const response = await fetch(found.resource_metadata, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    });
    found.metadata = await oauth.processResourceDiscoveryResponse(expected, response);
  } catch (error) {
    return refused('metadata', error);
  }

  try {
    const [first] = found.metadata.authorization_servers ?? [];
    if (typeof first !== 'string') {
      throw new Error('the metadata names no authorization server');
    }
    const issuer = new URL(first);
    const response = await oauth.discoveryRequest(issuer, options());
    const as = await oauth.processDiscoveryResponse(issuer, response);
    found.authorization_server = {
      issuer: as.issuer,
      token_endpoint: as.token_endpoint,
      dpop_signing_alg_values_supported: as.dpop_signing_alg_values_supported,
    };
  } catch (error) {
    return refused('authorization_server', error);
  }
  return found;
}

function keyAnswer(entry) {
  return { key: entry.id, alg: entry.alg, jkt: entry.jkt, public_jwk: entry.publicJwk };
}

function routes(provider) {
  return {
    'POST /dpop-token': async (body) => {
      const entry = await newDpopKey(body.alg ?? 'ES256');
      const token = await requestToken(provider, CLIENTS.dpop, {
        dpopKey: entry,
        scope: optionalString(body, 'scope'),
        resource: optionalString(body, 'resource'),
      });
      counts.dpop_tokens += 1;
      return { ...tokenAnswer(token), ...keyAnswer(entry) };
    },
    'POST /dpop-key': async (body) => keyAnswer(await newDpopKey(body.alg ?? 'ES256')),
    'POST /proof': async (body) => {
      const id = requiredString(body, 'key');
      const entry = keys.get(id);
      if (!entry) {
        throw new NotFound(`no key ${id}`);
      }
      const { iat_offset: iatOffset } = body;
      if (iatOffset !== undefined && !Number.isInteger(iatOffset)) {
        throw new BadRequest('iat_offset must be an integer (seconds)');
      }
      const proof = await makeProof(entry, {
        htm: requiredString(body, 'htm'),
        htu: requiredString(body, 'htu'),
        nonce: optionalString(body, 'nonce'),
        accessToken: optionalString(body, 'access_token'),
        iatOffset,
        jti: optionalString(body, 'jti'),
      });
      counts.proofs += 1;
      return { proof };
    },
    'POST /mtls-token': async (body) => {
      const certPem = requiredString(body, 'cert_pem');
      let certificate;
      try {
        certificate = new crypto.X509Certificate(certPem);
      } catch (error) {
        throw new BadRequest(`cert_pem is not a certificate: ${error.message}`);
      }
      const token = await requestToken(provider, CLIENTS.mtls, {
        certPem: certificate.toString(),
        scope: optionalString(body, 'scope'),
        resource: optionalString(body, 'resource'),
      });
      counts.mtls_tokens += 1;
      const x5t = crypto.createHash('sha256').update(certificate.raw).digest('base64url');
      return { ...tokenAnswer(token), 'x5t#S256': x5t };
    },
    'POST /bearer-token': async (body) => {
      const token = await requestToken(provider, CLIENTS.bearer, {
        scope: optionalString(body, 'scope'),
        resource: optionalString(body, 'resource'),
      });
      counts.bearer_tokens += 1;
      return tokenAnswer(token);
    },
    'POST /revoke': async (body) => {
      const form = new URLSearchParams({
        token: requiredString(body, 'token'),
        token_type_hint: 'access_token',
      });
      const answer = await fetchJson(provider.discovery.revocation_endpoint, {
        method: 'POST',
        headers: {
          authorization: basicAuth(CLIENTS.bearer),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: form,
      });
      // RFC 7009 §2.2: 200 whether or not the token was known.
      if (answer[STATUS] !== 200) {
        throw new ProviderRefused(`revocation endpoint answered ${answer[STATUS]}`);
      }
      return { status: answer[STATUS] };
    },
    'POST /discover-resource': discoverResource,
    'GET /counts': async () => ({ ...counts }),
    'GET /info': async () => ({
      issuer: provider.issuer,
      jwks_uri: provider.discovery.jwks_uri,
      token_endpoint: provider.discovery.token_endpoint,
      introspection_endpoint: provider.discovery.introspection_endpoint,
      audience: AUDIENCE,
      opaque_audience: OPAQUE_AUDIENCE,
      access_token_alg: ACCESS_TOKEN_ALG,
      scopes: SCOPES,
      client_cert_header: CLIENT_CERT_HEADER,
      dpop_algs: Object.keys(DPOP_ALGS),
      introspection_client: { ...CLIENTS.resource },
      introspection_client_jwt: {
        client_id: CLIENTS.resourceJwt.client_id,
        alg: 'ES256',
        kid: RESOURCE_SERVER_KEY.kid,
        private_key_pem: RESOURCE_SERVER_KEY.pem,
        unregistered_private_key_pem: UNREGISTERED_KEY.pem,
      },
    }),
  };
}

// --- the control server -----------------------------------------------------------

async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY) {
      throw new BadRequest('body too large');
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    return {};
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest('body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest('body must be a JSON object');
  }
  return body;
}

function answer(response, status, value) {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

async function startControl(provider) {
  const table = routes(provider);
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://control').pathname;
    const handler = table[`${request.method} ${path}`];
    try {
      if (!handler) {
        throw new NotFound(`no route ${request.method} ${path}`);
      }
      answer(response, 200, await handler(await readJson(request)));
    } catch (error) {
      let status = 500;
      if (error instanceof BadRequest) status = 400;
      else if (error instanceof NotFound) status = 404;
      else if (error instanceof ProviderRefused) status = 502;
      if (status === 500) {
        console.error(`control ${request.method} ${path}:`, error);
      }
      answer(response, status, { error: error.message });
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  return { server, url: `http://${HOST}:${server.address().port}` };
}

// --- life cycle -------------------------------------------------------------------

const provider = await startProvider();
const control = await startControl(provider);

let stopping = false;
function stop(reason) {
  if (stopping) {
    return;
  }
  stopping = true;
  console.error(`oauth harness: stopping (${reason})`);
  provider.server.closeAllConnections?.();
  control.server.closeAllConnections?.();
  provider.server.close();
  control.server.close();
  // Nothing to save: leave at once, whatever is still open.
  setTimeout(() => process.exit(0), 100).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// The parent holds our stdin: when it is gone, so are we.
process.stdin.on('end', () => stop('stdin closed'));
process.stdin.on('error', () => stop('stdin error'));
process.stdin.resume();

process.stdout.write(
  `${JSON.stringify({ issuer: provider.issuer, jwks_uri: provider.discovery.jwks_uri, control: control.url })}\n`,
);
console.error(`oauth harness: ready ${Math.round(process.uptime() * 1000)} ms after the process started`);
