//! A fixed workload for instruction counting (`valgrind --tool=callgrind`),
//! which, unlike wall time, repeats exactly on a shared, noisy machine:
//! `instructions <mode> <requests>`, the mode one of
//!
//! - `layer-hs256`, `layer-rs256`: requests with a bearer token of that
//!   algorithm through `JwtAuthLayer` (default features: the aws-lc-rs
//!   backend; claims into a `serde_json::Value`) around an empty inner service;
//! - `decode-hs256`, `decode-rs256`: the same token through a bare
//!   `jsonwebtoken::decode` (aws-lc-rs backend too) with a prepared
//!   `DecodingKey`, the floor every JWT middleware stands on;
//! - `layer`, `decode`: the HS256 modes under their earlier names;
//! - `layer-hs256-prometheus`, `layer-rs256-prometheus` (built with this
//!   package's `metrics` feature, which turns on the layer's): the layer
//!   modes with `metrics-exporter-prometheus`'s recorder installed first,
//!   so that every record reaches a real registry. Without a recorder, the
//!   `layer-*` modes of that build measure the feature's cost alone.
//!
//! Both algorithms sign the same claims with `TokenIssuer` at start-up, so the
//! tokens differ only in header and signature. RS256 is 2048-bit. Note that
//! jsonwebtoken's aws-lc verifier parses the RSA public key on every
//! `decode`, where the layer parses it once when it is built.
//!
//! `scripts/instructions.sh` runs each mode at two sizes and divides the
//! difference, which leaves out start-up, signing and key preparation.

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer};

const SECRET: &[u8] = b"instruction count secret, 32 bytes or more";

/// An RSA 2048 key pair made for this workload with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`: the PyJWT
/// fixtures (tests/fixtures/pyjwt) hold only public keys, and signing here
/// gives RS256 the same claims as HS256. It signs nothing but these tokens.
/// (PEM parsing is jsonwebtoken's `use_pem`, which tower-jwt-auth enables.)
const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDYM4+GmZySG1FF
WpHpkTMNeRWGdTO8XFkcXKX/KnDcdxGMPrJXeBwgvld2T452rK51PphhFiKiDtj3
GDVNb6zRgwgrYzbp8fKYBw6jYwxkY8xYuds24u0itIxG7S+grmbltXn6IvRfmfgI
LSVHcwPHPSHTVzxoOZwIodo5HtPDEkdBssYcLORb9lLZ91xLTeK2m+qqOtYESnoT
IBR3RXvEocXQAehIBdW2TnrlWUJtjUhuQQDFN982toQTnBOofj7UEBbld5b9w5h/
eNgdx2cjf5+wUXswXAx04+E2yWtdYRvBTZ0G9df+edJH86KMwjPFvATfjssnbhAA
X+7WaJDfAgMBAAECggEAHw40+SLP7JAo+eXbHL+jI4siOOiqmvgcQr3aMvof28NC
DYZPVs96zDHwh/RAj10ZnYogGEi2MSzMefM2a4j1kY4ZWnt2FApm4Z3t5TFL7TsF
S4oS6jeUKY6MByojKRkJex3jcgya/q/erXSoAgiMNo6E8Sx65wZoxTf+i9hDlyWh
kvNdV2j40SqONyP0PVO6vAzI+Ns3XK7IZegbE+09cHQdjqpLPusHx8WGzDREr+NI
r/vXxzmxe+CEShKotLNkBZ3M3YF356f4fH+m9ZHjAl49wseArd7U+okDZHbaVST1
6jzB1FiWksuUqXRTekU6w5o5t0jeZnvacSK5ebRgyQKBgQDt0dRe9+ERSP4WcjNN
jx8a5XjnMWGTnAfUmTNTJrMfYPPBci4quh9CFu1ybajPdCurGNf1bPq0tgq6y2iv
PJqhnsIXvq5BV6OUZkM90NzDb1CNXWQnpTEgI4J+6drzoTGM7tjcZ0lWu0/LR/Hk
dia9Say+h4oKMY4A6s7D4yHsdwKBgQDouqiVH7pnH6i98qL3N9yryTDou2H+e99S
kx2OI6ShPnDKF1XOrkbXtnVarF8QnRg6vlVGtRbTaW8I6eJcL3rAnoJ0VyIFb9Ab
Zmn6xQ4MaFG/4Ck+tkBzh7pWbSiozWDF3vqQNy7clmxtYCECKVDPTOICv4643Xv+
+gPWYPng2QKBgQChgZ2DPT3o+jQsVDQJGQhbwLlB8OQ+VXlv5PbZInAFAFep6Pv3
Ylz2ChIJYvWApXk+gemvr+n2raZNwvP+Bd9RoTpY29MFZxodHvHNWjmCs+b1ihYJ
YoMhO1xVCkX6rF61QkOeMrq4nw6Kk/pvV9npNM6OugeB8rNoZg4zM94G8wKBgQCA
HfGcVmEZUBZmquIH0lrKvvELzcv+elbQcGh+zSReF6+jsQDtzIb3TVyBVA7paHHk
NM9hI2OzcoFLmOWh9glPbHNIdIcoEwuvacvB3yUCs5L9W/uYqGAGuZtc5K7Tbmxt
wXiSV66WhMCf3aGOPQxdcmehN67sGhGepifipnQo0QKBgQDrjoZ2Bm4GVpwkoUAZ
5B2nGqs6pufnp0cc4ZqVbXTledbwLnrd4Cgyj67fYeXi/EDr7xocZE0kNd7bD4r6
aDesCf+jQr/uOb+FK07qv+OK6f8487vEN9CNNUnxoM9yUhIZPz7AaS3nHpd2tHBl
+OSz+rPCT8G2UqTmKUxxtXP5Fg==
-----END PRIVATE KEY-----";
const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2DOPhpmckhtRRVqR6ZEz
DXkVhnUzvFxZHFyl/ypw3HcRjD6yV3gcIL5Xdk+OdqyudT6YYRYiog7Y9xg1TW+s
0YMIK2M26fHymAcOo2MMZGPMWLnbNuLtIrSMRu0voK5m5bV5+iL0X5n4CC0lR3MD
xz0h01c8aDmcCKHaOR7TwxJHQbLGHCzkW/ZS2fdcS03itpvqqjrWBEp6EyAUd0V7
xKHF0AHoSAXVtk565VlCbY1IbkEAxTffNraEE5wTqH4+1BAW5XeW/cOYf3jYHcdn
I3+fsFF7MFwMdOPhNslrXWEbwU2dBvXX/nnSR/OijMIzxbwE347LJ24QAF/u1miQ
3wIDAQAB
-----END PUBLIC KEY-----";

const MODES: &str = "layer-hs256, decode-hs256, layer-rs256, decode-rs256 (layer, decode: HS256); \
     with the `metrics` feature, layer-hs256-prometheus, layer-rs256-prometheus";

#[derive(Clone, Copy)]
enum Alg {
    Hs256,
    Rs256,
}

impl Alg {
    fn issuer(self) -> TokenIssuer {
        let builder = match self {
            Alg::Hs256 => TokenIssuer::hmac(SECRET),
            Alg::Rs256 => TokenIssuer::builder(
                EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).expect("an RSA private key"),
                Algorithm::RS256,
            ),
        };
        builder.build().expect("an issuer")
    }

    /// The layer's key.
    fn key(self) -> Key {
        match self {
            Alg::Hs256 => Key::hmac(SECRET),
            Alg::Rs256 => Key::rsa_pem(RSA_PUBLIC_PEM.as_bytes()).expect("an RSA public key"),
        }
    }

    /// jsonwebtoken's key and validation.
    fn decoding(self) -> (DecodingKey, Validation) {
        match self {
            Alg::Hs256 => (
                DecodingKey::from_secret(SECRET),
                Validation::new(Algorithm::HS256),
            ),
            Alg::Rs256 => (
                DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).expect("an RSA public key"),
                Validation::new(Algorithm::RS256),
            ),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(requests)) = (args.next(), args.next()) else {
        eprintln!("usage: instructions <mode> <requests>; modes: {MODES}");
        std::process::exit(2);
    };
    let requests: u32 = requests.parse().expect("a number of requests");
    let mode = match mode.strip_suffix("-prometheus") {
        Some(layer_mode) => {
            install_prometheus();
            layer_mode.to_owned()
        }
        None => mode,
    };
    let (run, alg): (fn(Alg, &str, u32), Alg) = match mode.as_str() {
        "layer" | "layer-hs256" => (layer, Alg::Hs256),
        "decode" | "decode-hs256" => (decode, Alg::Hs256),
        "layer-rs256" => (layer, Alg::Rs256),
        "decode-rs256" => (decode, Alg::Rs256),
        other => {
            eprintln!("unknown mode {other:?}: {MODES}");
            std::process::exit(2);
        }
    };
    let token = alg
        .issuer()
        .issue(&json!({ "sub": "ada", "scope": "orders:read orders:write", "tenant": 7 }))
        .expect("a token");
    run(alg, &token, requests);
}

/// Installs the Prometheus recorder, for the `-prometheus` modes.
#[cfg(feature = "metrics")]
fn install_prometheus() {
    // The recorder stays installed when its handle is dropped: it is global.
    let _handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder");
}

#[cfg(not(feature = "metrics"))]
fn install_prometheus() {
    eprintln!("the -prometheus modes need `--features metrics`: {MODES}");
    std::process::exit(2);
}

fn layer(alg: Alg, token: &str, requests: u32) {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(alg.key())
        .build()
        .expect("a layer");
    let mut service = layer.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(()))
    }));
    let bearer = format!("Bearer {token}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for _ in 0..requests {
            let request = Request::get("/")
                .header("authorization", &bearer)
                .body(())
                .expect("a request");
            let ready = service.ready().await.expect("infallible");
            let response = ready.call(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
    });
}

fn decode(alg: Alg, token: &str, requests: u32) {
    let (key, validation) = alg.decoding();
    for _ in 0..requests {
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid token");
        assert_eq!(data.claims["sub"], "ada");
    }
}
