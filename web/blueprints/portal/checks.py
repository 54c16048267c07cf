"""Certificate self-check (電子証明書の有効性確認): upload a certificate, or the card file.

A certificate file (PEM or DER) is judged as it is. A card file (the sealed virtual card image)
is opened with the instance's seal key in a temporary folder that is removed at once: the
authentication certificate is read without a PIN, the signing certificate after the signing
password, which is used for that one read and never stored or logged.

A wrong password costs a try on the uploaded copy only, so re-uploading the file would allow
unlimited guesses; this process therefore also counts wrong passwords per card and stops
reading a card's signing certificate here after ``MAX_WRONG_PASSWORDS`` (the card's own limit).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from cryptography import x509
from flask import render_template
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import PasswordField, RadioField
from wtforms.validators import Length, Optional

from pki.card import (
    Card,
    CardError,
    FileNotFound,
    ImageError,
    PinFormatError,
    PinLocked,
    VirtualCard,
    WrongPin,
)
from web import secrets
from web.app import services
from web.blueprints.portal import blueprint
from web.certificate_check import check as judge
from web.certificate_check import jst

MAX_CERTIFICATE = 64 * 1024  # bytes: a certificate is a few KB
MAX_CARD = 1024 * 1024  # bytes: a card image is a few KB
MAX_WRONG_PASSWORDS = 5

_wrong: dict[str, int] = {}
_wrong_lock = threading.Lock()


class CheckForm(FlaskForm):
    certificate = FileField("電子証明書のファイル（PEM形式またはDER形式）")
    card = FileField("カードファイル")
    kind = RadioField("確認する証明書", default="auth", choices=[
        ("auth", "利用者証明用電子証明書（パスワードは不要です）"),
        ("sign", "署名用電子証明書（署名用パスワードが必要です）")])
    signing_password = PasswordField("署名用パスワード（英大文字と数字6〜16文字）",
                                     validators=[Optional(), Length(max=16)])


class Unreadable(Exception):
    """The upload cannot be read; the message is for the resident."""


@blueprint.route("/check", methods=["GET", "POST"])
def check() -> ResponseReturnValue:
    """電子証明書の有効性確認."""
    form = CheckForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("portal/check.html", form=form, result=None), status
    certificate_file = form.certificate.data
    card_file = form.card.data
    if (certificate_file is None) == (card_file is None):
        form.certificate.errors = [
            "電子証明書のファイルか、カードファイルのどちらか一方を選んでください。"]
        return render_template("portal/check.html", form=form, result=None), 400
    try:
        if certificate_file is not None:
            certificate = _certificate(certificate_file)
        else:
            certificate = _from_card(card_file, form.kind.data or "auth",
                                     form.signing_password.data or "")
    except Unreadable as exc:
        field = form.certificate if certificate_file is not None else form.card
        field.errors = [str(exc)]
        return render_template("portal/check.html", form=form, result=None), 400
    finally:
        form.signing_password.data = ""
    result = judge(services(), certificate)
    return render_template("portal/check.html", form=form, result=result, jst=jst)


def _read(upload: FileStorage, limit: int) -> bytes:
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise Unreadable("ファイルが大きすぎます。")
    return data


def _certificate(upload: FileStorage) -> x509.Certificate:
    data = _read(upload, MAX_CERTIFICATE)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise Unreadable("電子証明書として読み取れませんでした。"
                         "PEM形式またはDER形式の証明書ファイルを選んでください。") from None


def _from_card(upload: FileStorage, kind: str, password: str) -> x509.Certificate:
    """Read a certificate from an uploaded card image (see the module docstring)."""
    if kind == "sign" and not password:
        raise Unreadable("署名用電子証明書の確認には、署名用パスワードを入力してください。")
    data = _read(upload, MAX_CARD)
    seal_key = secrets.card_seal_key(services().settings)
    with tempfile.TemporaryDirectory(prefix="jpki-check-") as folder:
        path = Path(folder) / "card.jcard"
        path.write_bytes(data)
        try:
            with VirtualCard.open(path, seal_key) as virtual:
                card = Card(virtual)
                if kind != "sign":
                    return card.read_certificate("auth")
                return _signing_certificate(card, virtual.card_id, password)
        except ImageError:
            raise Unreadable("カードファイルとして読み取れませんでした。"
                             "当サービスで発行されたカードファイルを選んでください。") from None
        except FileNotFound:
            raise Unreadable("このカードには選んだ種類の電子証明書が入っていません。") from None
        except CardError:
            raise Unreadable("カードから電子証明書を読み取れませんでした。") from None


def _signing_certificate(card: Card, card_id: str, password: str) -> x509.Certificate:
    with _wrong_lock:
        if _wrong.get(card_id, 0) >= MAX_WRONG_PASSWORDS:
            raise Unreadable("この画面での署名用パスワードの入力誤りが上限に達しました。"
                             "電子証明書のファイルで確認するか、窓口にお問い合わせください。")
    try:
        certificate = card.read_certificate("sign", password)
    except PinFormatError:
        raise Unreadable("署名用パスワードは、英大文字と数字を組み合わせた"
                         "6〜16文字です。") from None
    except WrongPin:
        with _wrong_lock:
            _wrong[card_id] = _wrong.get(card_id, 0) + 1
        raise Unreadable("署名用パスワードが違います。") from None
    except PinLocked:
        raise Unreadable("署名用パスワードがロックされています。"
                         "お住まいの市区町村の窓口で初期化を申請してください。") from None
    with _wrong_lock:
        _wrong.pop(card_id, None)
    return certificate
