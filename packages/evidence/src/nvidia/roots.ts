/**
 * NVIDIA's GPU device identity trust anchor, embedded as data: the
 * self-signed "NVIDIA Device Identity CA" certificate at the top of every
 * Hopper attestation certificate chain (device certificate → GSP BROM →
 * GH100 Provisioner ICA → GH100 Identity → this root). It is a public
 * certificate; a GPU report is trusted only when its device certificate
 * chains to it (or to a root the caller passes instead).
 */
import { base64Decode } from "@veritee/core";

/**
 * "CN=NVIDIA Device Identity CA, O=NVIDIA", self-signed, ECDSA P-384 with
 * SHA-384, valid 2021-11-05 to 9999-12-31 (RFC 5280 §4.1.2.5 "no well-defined
 * expiration"). SHA-256 of the DER:
 * 102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48.
 */
export const NVIDIA_DEVICE_IDENTITY_ROOT: Uint8Array = base64Decode(
  "MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIwIAYDVQQDDBlOVklESUEgRGV2aWNlIElkZW50" +
    "aXR5IENBMQ8wDQYDVQQKDAZOVklESUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMDUxIjAgBgNVBAMMGU5WSURJ" +
    "QSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAGByqGSM49AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlg" +
    "fky/RRnEQScW9NDZF8SXgAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfEIrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB2Ry70YfThX3Ba1zO" +
    "ryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lf" +
    "MB8GA1UdIwQYMBaAFFeF/4PyY8xlfWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3TASsKQVaT+8S0sO9u97PVGCp" +
    "E9d/I42IT7k3UUOLSR/qvJynVOD1vQKVXf0CMQC+EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSB" +
    "WwA=",
  "NVIDIA device identity root",
  4096,
);

/**
 * "CN=NVIDIA CoRIM signing Root CA, O=NVIDIA, C=US", self-signed, ECDSA
 * P-384 with SHA-384, valid 2023-03-16 to 2053-03-08: the trust anchor of
 * NVIDIA's reference integrity manifests (RIM signer → "NVIDIA Reference
 * Value L3 GH100 001" → "NVIDIA Reference Value GH100 CA" → this root), as
 * carried in the KeyInfo of the RIMs in ../shared/vectors/nvidia. SHA-256 of
 * the DER: 12977b5115acb0381179279fffeb5a8c4d264971ebb32298023a465fa41df5d1.
 */
export const NVIDIA_RIM_ROOT: Uint8Array = base64Decode(
  "MIICKTCCAbCgAwIBAgIQRdrjoA5QN73fh1N17LXicDAKBggqhkjOPQQDAzBFMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGTlZJRElB" +
    "MSUwIwYDVQQDDBxOVklESUEgQ29SSU0gc2lnbmluZyBSb290IENBMCAXDTIzMDMxNjE1MzczNFoYDzIwNTMwMzA4MTUzNzM0WjBF" +
    "MQswCQYDVQQGEwJVUzEPMA0GA1UECgwGTlZJRElBMSUwIwYDVQQDDBxOVklESUEgQ29SSU0gc2lnbmluZyBSb290IENBMHYwEAYH" +
    "KoZIzj0CAQYFK4EEACIDYgAEuECyi9vNM+Iw2lfUzyBldHAwaC1HF7TCgp12QcEyUTm3Tagxwr48d55+K2VIlWYIDk7NlAIQdcV/" +
    "Ff7euGLI+Qauj93HsSI4WX298PpW54RTgz9tC+Q684caR/BXWEeZo2MwYTAdBgNVHQ4EFgQUpaXrOPK4ZDAk08DBskn594zeZjAw" +
    "HwYDVR0jBBgwFoAUpaXrOPK4ZDAk08DBskn594zeZjAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0E" +
    "AwMDZwAwZAIwHGDyscDP6ihHqRvZlI3eqZ4YkvjE1duaN84tAHRVgxVMvNrp5Tnom3idHYGW/dskAjATvjIx6VzHm/4e2GiZAyZE" +
    "IUBDOKPzp5ei/A0iUZpdvngenDwV8Qa/wGdiTmJ7Bp4=",
  "NVIDIA RIM signing root",
  4096,
);
