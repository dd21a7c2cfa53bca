/**
 * A test-only encoder for `attest.Attestation`, so tests can forge messages
 * with any one field changed. Product code only decodes.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { tpmAlgFromHash } from "@veritee/core";
import type { GceAttestation, GcePcrs, GceQuote } from "../../src/gce/attestation-pb.js";

function pcrs(p: GcePcrs): Uint8Array {
  const w = new BinaryWriter().tag(1, WireType.Varint).uint32(tpmAlgFromHash(p.hash));
  for (const [index, value] of p.values) {
    const entry = new BinaryWriter()
      .tag(1, WireType.Varint)
      .uint32(index)
      .tag(2, WireType.LengthDelimited)
      .bytes(value);
    w.tag(2, WireType.LengthDelimited).bytes(entry.finish());
  }
  return w.finish();
}

function quote(q: GceQuote): Uint8Array {
  const w = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .bytes(q.quote)
    .tag(2, WireType.LengthDelimited)
    .bytes(q.rawSig);
  if (q.pcrs) w.tag(3, WireType.LengthDelimited).bytes(pcrs(q.pcrs));
  return w.finish();
}

/** Encode `att` in field order; maps in ascending key order. */
export function encodeGceAttestation(att: GceAttestation): Uint8Array {
  const w = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(att.akPub);
  for (const q of att.quotes) w.tag(2, WireType.LengthDelimited).bytes(quote(q));
  w.tag(3, WireType.LengthDelimited).bytes(att.eventLog);
  if (att.instanceInfo) {
    const i = att.instanceInfo;
    const info = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .string(i.zone)
      .tag(2, WireType.LengthDelimited)
      .string(i.projectId)
      .tag(3, WireType.Varint)
      .uint64(i.projectNumber)
      .tag(4, WireType.LengthDelimited)
      .string(i.instanceName)
      .tag(5, WireType.Varint)
      .uint64(i.instanceId);
    w.tag(4, WireType.LengthDelimited).bytes(info.finish());
  }
  if (att.canonicalEventLog) w.tag(5, WireType.LengthDelimited).bytes(att.canonicalEventLog);
  if (att.akCert) w.tag(6, WireType.LengthDelimited).bytes(att.akCert);
  for (const c of att.intermediateCerts) w.tag(7, WireType.LengthDelimited).bytes(c);
  if (att.teeAttestation) {
    w.tag(att.teeAttestation.kind === "sev-snp" ? 8 : 9, WireType.LengthDelimited).bytes(att.teeAttestation.message);
  }
  return w.finish();
}
