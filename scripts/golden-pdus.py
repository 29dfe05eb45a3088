#!/usr/bin/env python3
"""Golden upper-layer PDUs (PS3.8 9.3, PS3.7 Annex D.3.3) encoded by pynetdicom, an encoder
independent of Ferry's, for Tests/FerryNetworkTests/GoldenPDUTests.swift: a mistake that
Ferry's encoder and decoder share (a swapped field, a wrong length, a missing reserved byte)
round-trips silently but does not survive a comparison with these bytes.

Every PDU is built with pynetdicom's own classes: service primitives (pynetdicom.pdu_primitives
and pynetdicom.presentation.PresentationContext) turned into PDUs by PDU.from_primitive(...)
and encoded with .encode(). The comment above each golden is written from what pynetdicom
decodes back out of those bytes, not from the values put in.

Regenerate (needs pynetdicom, `pip install pynetdicom`; made with pynetdicom 3.0.4):

    python3 scripts/golden-pdus.py > /tmp/goldens.swift

and paste the output over the `enum Golden` at the end of GoldenPDUTests.swift. The values
below are the ones the Swift test checks field by field: change one here, change it there.

User-information sub-items are given in ascending item-type order (51, 52, 53, 54, 55, 56,
58, 59), the order Ferry's encoder writes, so that Ferry's encoding can be compared byte for
byte. PS3.8 9.3.2.3 allows any order; `associateRQPynetdicomOrder` keeps the order a real
pynetdicom requestor uses (51, 52, 55, 54, 53, 58, 57) and also carries the item Ferry does
not interpret (SOP class common extended negotiation, 57H).
"""
import io
import sys
import textwrap

import pynetdicom
from pydicom.dataset import Dataset
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.pdu import (
    A_ABORT_RQ,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
)
from pynetdicom.pdu_items import (
    AsynchronousOperationsWindowSubItem,
    ImplementationClassUIDSubItem,
    ImplementationVersionNameSubItem,
    MaximumLengthSubItem,
    SCP_SCU_RoleSelectionSubItem,
    SOPClassCommonExtendedNegotiationSubItem,
    SOPClassExtendedNegotiationSubItem,
    UserIdentitySubItemAC,
    UserIdentitySubItemRQ,
)
from pynetdicom.pdu_primitives import (
    A_ABORT,
    A_ASSOCIATE,
    A_P_ABORT,
    A_RELEASE,
    P_DATA,
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityNegotiation,
)
from pynetdicom.presentation import PresentationContext

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
VERIFICATION = "1.2.840.10008.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
STORAGE_SERVICE_CLASS = "1.2.840.10008.4.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
# Fixed rather than taken from pynetdicom, so that the goldens do not change with its version.
PEER_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.9.3811.3.0.4"
PEER_VERSION_NAME = "PYNETDICOM_304"
SCP_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.9.3811.3.0.5"
SCP_VERSION_NAME = "STORESCP_305"
SOP_INSTANCE = "1.2.826.0.1.3680043.8.498.10127"
# Storage SOP class extended negotiation (PS3.4 B.3.1): level of support 2, reserved,
# level of digital signature support 3, reserved, element coercion 1, reserved.
STORAGE_EXT_NEG_INFO = b"\x02\x00\x03\x00\x01\x00"
JWT = b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJmZXJyeSJ9."


def context(cid, abstract, syntaxes, result=None):
    cx = PresentationContext()
    cx.context_id = cid
    cx.abstract_syntax = abstract
    cx.transfer_syntax = syntaxes
    if result is not None:
        cx.result = result
    return cx


def max_length(n):
    item = MaximumLengthNotification()
    item.maximum_length_received = n
    return item


def implementation(uid, name=None):
    cls = ImplementationClassUIDNotification()
    cls.implementation_class_uid = uid
    if name is None:
        return [cls]
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = name
    return [cls, version]


def async_window(invoked, performed):
    item = AsynchronousOperationsWindowNegotiation()
    item.maximum_number_operations_invoked = invoked
    item.maximum_number_operations_performed = performed
    return item


def role(uid, scu, scp):
    item = SCP_SCU_RoleSelectionNegotiation()
    item.sop_class_uid = uid
    item.scu_role = scu
    item.scp_role = scp
    return item


def ext_neg(uid, info):
    item = SOPClassExtendedNegotiation()
    item.sop_class_uid = uid
    item.service_class_application_information = info
    return item


def common_ext_neg(uid, service, related):
    item = SOPClassCommonExtendedNegotiation()
    item.sop_class_uid = uid
    item.service_class_uid = service
    item.related_general_sop_class_identification = related
    return item


def identity(kind, positive, primary, secondary=b""):
    item = UserIdentityNegotiation()
    item.user_identity_type = kind
    item.positive_response_requested = positive
    item.primary_field = primary
    item.secondary_field = secondary
    return item


def identity_response(response):
    item = UserIdentityNegotiation()
    item.server_response = response
    return item


def associate(called, calling, contexts=None, results=None, user_information=()):
    p = A_ASSOCIATE()
    p.application_context_name = APPLICATION_CONTEXT
    p.called_ae_title = called
    p.calling_ae_title = calling
    if contexts is not None:
        p.presentation_context_definition_list = contexts
    if results is not None:
        p.presentation_context_definition_results_list = results
    p.user_information = list(user_information)
    return p


def build(pdu_class, primitive):
    pdu = pdu_class()
    pdu.from_primitive(primitive)
    return pdu.encode()


def goldens():
    """(Swift name, pynetdicom PDU class, encoded bytes) for every golden."""
    out = []

    # A-ASSOCIATE-RQ with every sub-item Ferry interprets, in ascending item-type order.
    rq = associate(
        "STORESCP", "FERRYSCU",
        contexts=[
            context(1, CT_IMAGE_STORAGE, [EXPLICIT_LE, IMPLICIT_LE]),
            context(3, ENHANCED_CT_IMAGE_STORAGE, [IMPLICIT_LE]),
        ],
        user_information=[
            max_length(16384),
            implementation(PEER_IMPLEMENTATION_UID)[0],
            async_window(5, 3),
            role(CT_IMAGE_STORAGE, False, True),
            implementation(PEER_IMPLEMENTATION_UID, PEER_VERSION_NAME)[1],
            ext_neg(CT_IMAGE_STORAGE, STORAGE_EXT_NEG_INFO),
            identity(2, True, b"ferry", b"s3cret"),
        ])
    out.append(("associateRQ", A_ASSOCIATE_RQ, build(A_ASSOCIATE_RQ, rq)))

    # A-ASSOCIATE-RQ with only what is mandatory: application context, one presentation
    # context, user information with maximum length and implementation class UID. The
    # calling AE title uses all 16 bytes.
    minimal = associate(
        "ANY-SCP", "ECHOSCU-16-CHARS",
        contexts=[context(1, VERIFICATION, [IMPLICIT_LE])],
        user_information=[max_length(16382)] + implementation(PEER_IMPLEMENTATION_UID))
    out.append(("associateRQMinimal", A_ASSOCIATE_RQ, build(A_ASSOCIATE_RQ, minimal)))

    # A-ASSOCIATE-RQ in the sub-item order of a pynetdicom requestor (Association's
    # requestor.user_information: 51, 52, 55, then role selection, asynchronous operations
    # window, user identity, SOP class extended and common extended negotiation), with a SOP
    # class common extended negotiation (57H, which Ferry does not interpret) and a JSON web
    # token user identity (type 5).
    extras = associate(
        "ANY-SCP", "PYNETDICOM",
        contexts=[context(1, ENHANCED_CT_IMAGE_STORAGE, [EXPLICIT_LE])],
        user_information=[max_length(0)] + implementation(PEER_IMPLEMENTATION_UID, PEER_VERSION_NAME) + [
            role(ENHANCED_CT_IMAGE_STORAGE, True, False),
            async_window(3, 1),
            identity(5, False, JWT),
            common_ext_neg(ENHANCED_CT_IMAGE_STORAGE, STORAGE_SERVICE_CLASS, [CT_IMAGE_STORAGE]),
        ])
    out.append(("associateRQPynetdicomOrder", A_ASSOCIATE_RQ, build(A_ASSOCIATE_RQ, extras)))

    # A-ASSOCIATE-AC answering the first RQ: context 1 accepted (explicit VR little endian),
    # context 3 rejected (abstract syntax not supported; its transfer syntax sub-item carries
    # the first proposed syntax, as pynetdicom's acceptor sends it). The user identity
    # response is empty: the RQ asked with type 2 (PS3.7 D.3.3.7.2).
    ac = associate(
        "STORESCP", "FERRYSCU",
        results=[
            context(1, CT_IMAGE_STORAGE, [EXPLICIT_LE], result=0),
            context(3, ENHANCED_CT_IMAGE_STORAGE, [IMPLICIT_LE], result=3),
        ],
        user_information=[
            max_length(32768),
            implementation(SCP_IMPLEMENTATION_UID)[0],
            async_window(2, 1),
            role(CT_IMAGE_STORAGE, False, True),
            implementation(SCP_IMPLEMENTATION_UID, SCP_VERSION_NAME)[1],
            identity_response(b""),
        ])
    out.append(("associateAC", A_ASSOCIATE_AC, build(A_ASSOCIATE_AC, ac)))

    # A-ASSOCIATE-RJ: rejected transient (2), service provider presentation (3), temporary
    # congestion (1): three different numbers, so a swap shows.
    rj = A_ASSOCIATE()
    rj.result, rj.result_source, rj.diagnostic = 2, 3, 1
    out.append(("associateRJ", A_ASSOCIATE_RJ, build(A_ASSOCIATE_RJ, rj)))

    # P-DATA-TF: a whole C-STORE-RQ command (message control header 03H: command, last
    # fragment) then the first 48 bytes of its data set (00H: data, not last), both on context 1.
    out.append(("pData", P_DATA_TF, build(P_DATA_TF, p_data())))

    out.append(("releaseRQ", A_RELEASE_RQ, build(A_RELEASE_RQ, A_RELEASE())))
    release_rp = A_RELEASE()
    release_rp.result = "affirmative"
    out.append(("releaseRP", A_RELEASE_RP, build(A_RELEASE_RP, release_rp)))

    # A-ABORT from the service provider, reason 4 (unrecognized PDU parameter), and from the
    # service user (source 0, reason 0).
    provider = A_P_ABORT()
    provider.provider_reason = 4
    out.append(("abortProvider", A_ABORT_RQ, build(A_ABORT_RQ, provider)))
    user = A_ABORT()
    user.abort_source = 0
    out.append(("abortUser", A_ABORT_RQ, build(A_ABORT_RQ, user)))
    return out


def store_command_and_data():
    """The C-STORE-RQ command set (implicit VR little endian, PS3.7 6.3.1) and a data set
    (explicit VR little endian, the syntax the AC accepts), as pynetdicom encodes them."""
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = SOP_INSTANCE
    ds.Modality = "CT"
    ds.PatientName = "GOLDEN^PDU"
    ds.PatientID = "FERRY-1"
    data = encode(ds, False, True)
    store = C_STORE()
    store.MessageID = 7
    store.AffectedSOPClassUID = CT_IMAGE_STORAGE
    store.AffectedSOPInstanceUID = SOP_INSTANCE
    store.Priority = 0
    store.DataSet = io.BytesIO(data)
    msg = C_STORE_RQ()
    msg.primitive_to_message(store)
    return encode(msg.command_set, True, True), data


def p_data():
    command, data = store_command_and_data()
    p = P_DATA()
    p.presentation_data_value_list = [[1, b"\x03" + command], [1, b"\x00" + data[:48]]]
    return p


# Comments: what pynetdicom decodes back out of each golden.

def describe_user_information(items, lines):
    lines.append("User Information (50H):")
    for item in items:
        t = f"  {item.item_type:02X}H "
        if isinstance(item, MaximumLengthSubItem):
            lines.append(t + f"Maximum Length Received: {item.maximum_length_received}")
        elif isinstance(item, ImplementationClassUIDSubItem):
            lines.append(t + f"Implementation Class UID: {item.implementation_class_uid}")
        elif isinstance(item, ImplementationVersionNameSubItem):
            lines.append(t + f"Implementation Version Name: {item.implementation_version_name}")
        elif isinstance(item, AsynchronousOperationsWindowSubItem):
            lines.append(t + f"Asynchronous Operations Window: invoked {item.maximum_number_operations_invoked},"
                         f" performed {item.maximum_number_operations_performed}")
        elif isinstance(item, SCP_SCU_RoleSelectionSubItem):
            lines.append(t + f"SCP/SCU Role Selection: {item.uid} SCU {item.scu_role} SCP {item.scp_role}")
        elif isinstance(item, SOPClassExtendedNegotiationSubItem):
            lines.append(t + f"SOP Class Extended Negotiation: {item.sop_class_uid}"
                         f" info {item.service_class_application_information.hex(' ')}")
        elif isinstance(item, SOPClassCommonExtendedNegotiationSubItem):
            related = ", ".join(str(u) for u in item.related_general_sop_class_identification)
            lines.append(t + f"SOP Class Common Extended Negotiation: {item.sop_class_uid}"
                         f" service class {item.service_class_uid} related [{related}]")
        elif isinstance(item, UserIdentitySubItemRQ):
            lines.append(t + f"User Identity: type {item.user_identity_type},"
                         f" positive response requested {item.positive_response_requested},"
                         f" primary {item.primary_field!r}, secondary {item.secondary_field!r}")
        elif isinstance(item, UserIdentitySubItemAC):
            lines.append(t + f"User Identity (AC): server response {item.server_response!r}")
        else:
            lines.append(t + f"{type(item).__name__}")


def describe(pdu_class, data):
    pdu = pdu_class()
    pdu.decode(data)
    assert pdu.encode() == data, "pynetdicom does not re-encode what it decodes"
    name = {
        A_ASSOCIATE_RQ: "A-ASSOCIATE-RQ", A_ASSOCIATE_AC: "A-ASSOCIATE-AC", A_ASSOCIATE_RJ: "A-ASSOCIATE-RJ",
        P_DATA_TF: "P-DATA-TF", A_RELEASE_RQ: "A-RELEASE-RQ", A_RELEASE_RP: "A-RELEASE-RP", A_ABORT_RQ: "A-ABORT",
    }[pdu_class]
    lines = [f"{name} (type {pdu.pdu_type:02X}H), PDU length {pdu.pdu_length}, {len(data)} bytes in all"]
    if pdu_class in (A_ASSOCIATE_RQ, A_ASSOCIATE_AC):
        primitive = pdu.to_primitive()
        lines.append(f"Protocol version {pdu.protocol_version}, called AE '{primitive.called_ae_title}',"
                     f" calling AE '{primitive.calling_ae_title}'")
        lines.append(f"Application Context (10H): {pdu.application_context_name}")
        for cx in pdu.presentation_context:
            if pdu_class is A_ASSOCIATE_RQ:
                lines.append(f"Presentation Context (20H) {cx.context_id}: abstract syntax {cx.abstract_syntax}")
                lines.append("  transfer syntaxes " + ", ".join(str(ts) for ts in cx.transfer_syntax))
            else:
                lines.append(f"Presentation Context (21H) {cx.context_id}: result {cx.result},"
                             f" transfer syntax {cx.transfer_syntax}")
        describe_user_information(pdu.user_information.user_data, lines)
    elif pdu_class is A_ASSOCIATE_RJ:
        lines.append(f"Result {pdu.result} ({pdu.result_str}), source {pdu.source} ({pdu.source_str}),"
                     f" reason {pdu.reason_diagnostic} ({pdu.reason_str})")
    elif pdu_class is P_DATA_TF:
        for pdv in pdu.presentation_data_value_items:
            header = int(pdv.message_control_header_byte, 2)
            lines.append(f"PDV: context {pdv.presentation_context_id}, message control header {header:02X}H"
                         f" ({'command' if header & 1 else 'data'}, {'last' if header & 2 else 'not last'}),"
                         f" {len(pdv.presentation_data_value) - 1} bytes")
    elif pdu_class is A_ABORT_RQ:
        lines.append(f"Source {pdu.source}, reason {pdu.reason_diagnostic} ({pdu.reason_str})")
    return lines


def swift_literal(name, data, comment, indent="    ", per_line=48):
    out = [f"{indent}// {part}" for line in comment
           for part in textwrap.wrap(line, 110 - len(indent), subsequent_indent="    ")]
    hexed = data.hex()
    if len(data) <= 16:
        out.append(f'{indent}static let {name} = "{hexed}"')
        return out
    out.append(f'{indent}static let {name} = """')
    for i in range(0, len(hexed), per_line * 2):
        out.append(f"{indent}    {hexed[i:i + per_line * 2]}")
    out.append(f'{indent}    """')
    return out


def main():
    lines = [
        f"/// Generated by scripts/golden-pdus.py with pynetdicom {pynetdicom.__version__}: do not edit by hand.",
        "enum Golden {",
    ]
    for name, pdu_class, data in goldens():
        lines += swift_literal(name, data, describe(pdu_class, data))
    command, data = store_command_and_data()
    lines += swift_literal("storeCommand", command,
                           ["The C-STORE-RQ command set carried by the first PDV of `pData`."])
    lines += swift_literal("dataFragment", data[:48],
                           ["The data set fragment carried by the second PDV of `pData`."])
    lines.append("}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
