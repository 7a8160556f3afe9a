"""What notifications say, in Spanish and English (alerts, subjects, the report's cover).

In: a language code. Out: ``Words(lang)(key, **values)``. Techniques, verdicts and functions
come from the comms report's catalogue (``netcheck.report.i18n``) so alerts and the report
name a block the same way.
"""

from __future__ import annotations

_ES = {
    "what_channel": "el canal oficial",
    "what_admin": "la consola de administración de {service}",
    "alert_blocked": "BLOQUEADO: {what} {url} no funciona desde la red «{network}» "
    "(desde {since}): {how}.",
    "alert_unblocked": "DESBLOQUEADO: {what} {url} vuelve a funcionar desde la red "
    "«{network}» (desde {since}).",
    "alert_evidence": "Evidencia de la sonda: {evidence}",
    "alert_record": "Registro: sonda {probe}, lote {seq}, posición {idx}, medido el {when}.",
    "alerts_subject_one": "netcheck: 1 cambio de acceso",
    "alerts_subject_many": "netcheck: {n} cambios de acceso",
    "alerts_title": "Cambios de acceso a los canales oficiales",
    "alerts_intro": "Las sondas de netcheck han medido estos cambios. Cada uno se avisa una "
    "sola vez.",
    "alerts_more": "… y {n} cambios más (véase el panel del colector).",
    "report_subject": "netcheck: informe de acceso a los canales oficiales",
    "report_title": "Informe de acceso a los canales oficiales",
    "report_webhook": "Informe de acceso ({days} días): {blocked} de {channels} canales "
    "oficiales con algún bloqueo.",
}

_EN = {
    "what_channel": "the official channel",
    "what_admin": "the {service} admin console",
    "alert_blocked": "BLOCKED: {what} {url} does not work from the “{network}” network "
    "(since {since}): {how}.",
    "alert_unblocked": "UNBLOCKED: {what} {url} works again from the “{network}” network "
    "(since {since}).",
    "alert_evidence": "The probe's evidence: {evidence}",
    "alert_record": "Record: probe {probe}, batch {seq}, position {idx}, measured {when}.",
    "alerts_subject_one": "netcheck: 1 access change",
    "alerts_subject_many": "netcheck: {n} access changes",
    "alerts_title": "Access changes to the official channels",
    "alerts_intro": "netcheck's probes measured these changes. Each is announced once.",
    "alerts_more": "… and {n} more changes (see the collector's dashboard).",
    "report_subject": "netcheck: access report on the official channels",
    "report_title": "Access report on the official channels",
    "report_webhook": "Access report ({days} days): {blocked} of {channels} official "
    "channels blocked somewhere.",
}

_ALL = {"es": _ES, "en": _EN}


class Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in _ALL else "es"

    def __call__(self, key: str, **values: object) -> str:
        return _ALL[self.lang][key].format_map(values)


def same_keys() -> bool:
    return set(_ES) == set(_EN)
