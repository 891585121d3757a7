"""The hub's one catalogue of user-facing texts, in Bahasa Indonesia (default) and English.

Every text a person reads from the hub lives here under one key: the dashboard, the officers'
pages (hub/alerting/messages.py composes them from these parts), the acknowledgement page
(hub/web/routes/ack.py), weekday names. `text(key, language, **fields)` is the one lookup;
`Translator` binds it to a page's language for the templates.

A dashboard page takes its language from `?lang=` (which also sets a cookie), then the
`kamling_lang` cookie, then the hub's `language` setting; a page to an officer, from the
officer's own `language`. Missing English strings fall back to Indonesian, and a missing key
shows itself, so a gap is visible instead of crashing a page at night. tests/hub/test_i18n.py
keeps both languages complete and no text empty.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("id", "en")
LANG_COOKIE = "kamling_lang"

STRINGS: dict[str, dict[str, str]] = {
    "id": {
        "app_name": "Pos Kamling",
        "nav_console": "Konsol",
        "nav_posts": "Pos",
        "nav_events": "Log kejadian",
        "nav_officers": "Petugas",
        "logout": "Keluar",
        "login_title": "Masuk",
        "username": "Nama pengguna",
        "password": "Kata sandi",
        "login_button": "Masuk",
        "login_failed": "Nama pengguna atau kata sandi salah.",
        "login_throttled": "Terlalu banyak percobaan. Coba lagi nanti.",
        "login_no_users": "Belum ada akun. Buat akun operator dengan: poskamling user add",
        "console_title": "Konsol langsung",
        "open_alerts": "Peringatan terbuka",
        "recent_alerts": "Peringatan terakhir",
        "no_open_alerts": "Tidak ada peringatan terbuka.",
        "no_alerts": "Belum ada peringatan.",
        "sound_enable": "Aktifkan suara",
        "sound_on": "Suara aktif",
        "live_connected": "Langsung",
        "live_reconnecting": "Menyambung ulang…",
        "col_time": "Waktu",
        "col_post": "Pos",
        "col_village": "Desa/Kel.",
        "col_kind": "Jenis",
        "col_state": "Status",
        "col_actions": "Tindakan",
        "col_device": "Perangkat",
        "col_seq": "No. urut",
        "col_details": "Rincian",
        "col_online": "Koneksi",
        "col_last_seen": "Terakhir terlihat",
        "col_camera": "Kamera",
        "col_open_alerts": "Peringatan terbuka",
        "col_name": "Nama",
        "col_rank": "Pangkat/jabatan",
        "col_level": "Tingkat",
        "col_language": "Bahasa",
        "col_channels": "Saluran",
        "col_on_duty": "Bertugas sekarang",
        "acknowledge": "Konfirmasi",
        "resolve": "Selesaikan",
        "outcome": "Hasil",
        "note": "Catatan",
        "outcome_real": "Kejadian nyata",
        "outcome_false_alarm": "Alarm palsu",
        "outcome_test": "Uji coba",
        "outcome_restored": "Pulih sendiri",
        "details": "Rincian",
        "state_new": "Baru",
        "state_notified": "Petugas dihubungi",
        "state_acknowledged": "Dikonfirmasi",
        "state_en_route": "Dalam perjalanan",
        "state_resolved": "Selesai",
        "kind_panic": "Panik",
        "kind_tamper": "Sabotase",
        "kind_offline": "Pos terputus",
        "kind_camera": "Kamera hilang",
        "kind_motion": "Gerakan",
        "kind_checkin": "Lapor diri",
        "kind_health": "Kondisi pos",
        "kind_flood": "Pos membanjiri sistem",
        "kind_poison": "Pesan pos gagal diproses",
        "kind_ingest_stuck": "Hub tidak menerima kejadian",
        "deadletters_title": "Pesan gagal (dead letter)",
        "deadletters_hint": "Pesan yang lolos validasi tetapi gagal diproses hub. Sudah dikonfirmasi ke broker agar tidak menghambat pos lain; isinya disimpan di sini.",
        "deadletters_total": "{total} pesan tersimpan ({evicted} terlama sudah dibuang)",
        "deadletters_reason": "Alasan",
        "deadletters_error": "Galat",
        "deadletters_resends": "Dikirim ulang",
        "deadletters_payload": "Isi",
        "deadletters_truncated": "dipotong",
        "deadletters_memory_only": "hanya di memori",
        "deadletters_none": "Tidak ada pesan gagal.",
        "online": "Terhubung",
        "offline": "TERPUTUS",
        "unknown": "Belum terdengar",
        "test": "UJI COBA",
        "posts_title": "Pos",
        "map": "Peta",
        "map_no_coords": "Tidak ada pos dengan koordinat.",
        "list": "Daftar",
        "alert_title": "Peringatan",
        "timeline": "Kronologi",
        "snapshots": "Foto",
        "no_snapshots": "Tidak ada foto.",
        "paged": "Dihubungi",
        "nobody_paged": "Belum ada yang dihubungi.",
        "acknowledged_by": "Dikonfirmasi oleh",
        "not_acknowledged": "Belum dikonfirmasi",
        "opened_at": "Dibuka",
        "resolved_at": "Diselesaikan",
        "events_title": "Log kejadian",
        "filter": "Saring",
        "all": "Semua",
        "since": "Sejak",
        "until": "Sampai",
        "newer": "« Lebih baru",
        "older": "Lebih lama »",
        "page_of": "Halaman {page} dari {pages} ({total} kejadian)",
        "no_events": "Tidak ada kejadian yang cocok.",
        "officers_title": "Petugas dan jadwal",
        "officers_readonly": "Hanya baca. Ubah petugas dan jadwal dengan perintah: poskamling officers",
        "no_officers": "Belum ada petugas.",
        "fallback": "Piket (cadangan)",
        "shifts": "Jadwal mingguan",
        "overrides": "Pengecualian (cuti, tukar)",
        "yes": "ya",
        "no": "tidak",
        "all_villages": "semua",
        "viewer_only": "Anda hanya dapat melihat.",
        "error": "Gagal",
        "back": "Kembali",
        "language": "Bahasa",
        "not_found": "Tidak ditemukan",
        "tl_opened": "dibuka",
        "tl_repeat": "ditekan lagi",
        "tl_paging": "menghubungi petugas",
        "tl_notified": "petugas menerima pesan",
        "tl_escalated": "dinaikkan ke atasan",
        "tl_reminder": "pengingat",
        "tl_page_failed": "gagal menghubungi",
        "tl_not_paged": "tidak ada yang dihubungi",
        "tl_acknowledged": "dikonfirmasi",
        "tl_en_route": "dalam perjalanan",
        "tl_resolved": "selesai",
        # Officers' pages (hub/alerting/messages.py fills the fields).
        "page_title": "{test}[{label}] {post}",
        "page_body": (
            "{test}{repeat}{label} di {post}, {village}.\n"
            "Waktu: {time} {tz}\n"
            "{map}"
            "{ack}"
            "Buka & konfirmasi: {link}"
        ),
        "page_test_prefix": "UJI COBA - ",
        "page_map": "Peta: {url}\n",
        "page_ack": "KONFIRMASI (1 ketuk): {url}\n",
        "page_reminder": "PENGINGAT: belum ada yang merespons. ",
        "page_escalated": "ESKALASI: petugas piket belum merespons. ",
        # An alert kind in capitals: a page's title, the acknowledgement page's headline.
        "page_kind_panic": "PANIK",
        "page_kind_tamper": "SABOTASE",
        "page_kind_offline": "POS TERPUTUS",
        "page_kind_camera": "KAMERA HILANG",
        "page_kind_motion": "GERAKAN",
        "page_kind_health": "PERINGATAN KONDISI POS",
        "page_kind_flood": "POS MEMBANJIRI SISTEM",
        "page_kind_poison": "PESAN POS GAGAL DIPROSES",
        "page_kind_ingest_stuck": "HUB TIDAK MENERIMA KEJADIAN",
        # The acknowledgement page an officer opens from a page (hub/web/routes/ack.py); it also
        # uses alert_title, col_post, col_time, col_kind, acknowledge, acknowledged_by, state_*.
        "ack_village": "Desa/Kelurahan",
        "ack_map": "Buka peta",
        "ack_snapshot": "Lihat foto kamera",
        "ack_en_route_button": "Saya menuju lokasi",
        "ack_test": "UJI COBA - tidak perlu datang",
        "ack_state_notified": "Petugas dihubungi",
        "ack_state_en_route": "Petugas menuju lokasi",
        "ack_invalid": "Tautan tidak sah.",
        "ack_expired": "Tautan sudah kedaluwarsa. Hubungi piket Polsek.",
        "ack_missing": "Peringatan tidak ditemukan.",
        # Weekdays by number, Monday first as in date.weekday() (the officers page).
        "weekday_0": "Senin",
        "weekday_1": "Selasa",
        "weekday_2": "Rabu",
        "weekday_3": "Kamis",
        "weekday_4": "Jumat",
        "weekday_5": "Sabtu",
        "weekday_6": "Minggu",
    },
    "en": {
        "app_name": "Pos Kamling",
        "nav_console": "Console",
        "nav_posts": "Posts",
        "nav_events": "Event log",
        "nav_officers": "Officers",
        "logout": "Log out",
        "login_title": "Log in",
        "username": "User name",
        "password": "Password",
        "login_button": "Log in",
        "login_failed": "Wrong user name or password.",
        "login_throttled": "Too many attempts. Try again later.",
        "login_no_users": "No accounts yet. Create an operator with: poskamling user add",
        "console_title": "Live console",
        "open_alerts": "Open alerts",
        "recent_alerts": "Recent alerts",
        "no_open_alerts": "No open alerts.",
        "no_alerts": "No alerts yet.",
        "sound_enable": "Enable sound",
        "sound_on": "Sound on",
        "live_connected": "Live",
        "live_reconnecting": "Reconnecting…",
        "col_time": "Time",
        "col_post": "Post",
        "col_village": "Village",
        "col_kind": "Kind",
        "col_state": "State",
        "col_actions": "Actions",
        "col_device": "Device",
        "col_seq": "Seq",
        "col_details": "Details",
        "col_online": "Connection",
        "col_last_seen": "Last seen",
        "col_camera": "Camera",
        "col_open_alerts": "Open alerts",
        "col_name": "Name",
        "col_rank": "Rank/role",
        "col_level": "Level",
        "col_language": "Language",
        "col_channels": "Channels",
        "col_on_duty": "On duty now",
        "acknowledge": "Acknowledge",
        "resolve": "Resolve",
        "outcome": "Outcome",
        "note": "Note",
        "outcome_real": "Real incident",
        "outcome_false_alarm": "False alarm",
        "outcome_test": "Test",
        "outcome_restored": "Restored by itself",
        "details": "Details",
        "state_new": "New",
        "state_notified": "Officer paged",
        "state_acknowledged": "Acknowledged",
        "state_en_route": "En route",
        "state_resolved": "Resolved",
        "kind_panic": "Panic",
        "kind_tamper": "Tamper",
        "kind_offline": "Post offline",
        "kind_camera": "Camera lost",
        "kind_motion": "Motion",
        "kind_checkin": "Check-in",
        "kind_health": "Post health",
        "kind_flood": "Post flooding",
        "kind_poison": "Post messages failing",
        "kind_ingest_stuck": "Hub not receiving events",
        "deadletters_title": "Dead letters",
        "deadletters_hint": "Messages that passed validation but failed in the hub. They were acknowledged to the broker so they hold up no other post; their content is kept here.",
        "deadletters_total": "{total} kept ({evicted} oldest dropped)",
        "deadletters_reason": "Reason",
        "deadletters_error": "Error",
        "deadletters_resends": "Resent",
        "deadletters_payload": "Payload",
        "deadletters_truncated": "truncated",
        "deadletters_memory_only": "memory only",
        "deadletters_none": "No dead letters.",
        "online": "Online",
        "offline": "OFFLINE",
        "unknown": "Not heard yet",
        "test": "TEST",
        "posts_title": "Posts",
        "map": "Map",
        "map_no_coords": "No post has coordinates.",
        "list": "List",
        "alert_title": "Alert",
        "timeline": "Timeline",
        "snapshots": "Snapshots",
        "no_snapshots": "No snapshots.",
        "paged": "Paged",
        "nobody_paged": "Nobody paged yet.",
        "acknowledged_by": "Acknowledged by",
        "not_acknowledged": "Not acknowledged",
        "opened_at": "Opened",
        "resolved_at": "Resolved",
        "events_title": "Event log",
        "filter": "Filter",
        "all": "All",
        "since": "Since",
        "until": "Until",
        "newer": "« Newer",
        "older": "Older »",
        "page_of": "Page {page} of {pages} ({total} events)",
        "no_events": "No matching events.",
        "officers_title": "Officers and roster",
        "officers_readonly": "Read-only. Change officers and the roster with: poskamling officers",
        "no_officers": "No officers yet.",
        "fallback": "Duty desk (fallback)",
        "shifts": "Weekly shifts",
        "overrides": "Exceptions (leave, swaps)",
        "yes": "yes",
        "no": "no",
        "all_villages": "all",
        "viewer_only": "You can only view.",
        "error": "Failed",
        "back": "Back",
        "language": "Language",
        "not_found": "Not found",
        "tl_opened": "opened",
        "tl_repeat": "pressed again",
        "tl_paging": "paging officers",
        "tl_notified": "officer received the page",
        "tl_escalated": "escalated",
        "tl_reminder": "reminder",
        "tl_page_failed": "paging failed",
        "tl_not_paged": "nobody paged",
        "tl_acknowledged": "acknowledged",
        "tl_en_route": "en route",
        "tl_resolved": "resolved",
        "page_title": "{test}[{label}] {post}",
        "page_body": (
            "{test}{repeat}{label} at {post}, {village}.\n"
            "Time: {time} {tz}\n"
            "{map}"
            "{ack}"
            "Open & acknowledge: {link}"
        ),
        "page_test_prefix": "TEST - ",
        "page_map": "Map: {url}\n",
        "page_ack": "ACKNOWLEDGE (one tap): {url}\n",
        "page_reminder": "REMINDER: nobody has answered yet. ",
        "page_escalated": "ESCALATED: the officer on duty has not answered. ",
        "page_kind_panic": "PANIC",
        "page_kind_tamper": "TAMPER",
        "page_kind_offline": "POST OFFLINE",
        "page_kind_camera": "CAMERA LOST",
        "page_kind_motion": "MOTION",
        "page_kind_health": "POST HEALTH WARNING",
        "page_kind_flood": "POST FLOODING",
        "page_kind_poison": "POST MESSAGES FAILING",
        "page_kind_ingest_stuck": "HUB NOT RECEIVING EVENTS",
        "ack_village": "Village",
        "ack_map": "Open map",
        "ack_snapshot": "See camera snapshot",
        "ack_en_route_button": "I'm on my way",
        "ack_test": "TEST - no need to come",
        "ack_state_notified": "Officers paged",
        "ack_state_en_route": "Officer on the way",
        "ack_invalid": "This link is not valid.",
        "ack_expired": "This link has expired. Call the Polsek duty desk.",
        "ack_missing": "Alert not found.",
        "weekday_0": "Mon",
        "weekday_1": "Tue",
        "weekday_2": "Wed",
        "weekday_3": "Thu",
        "weekday_4": "Fri",
        "weekday_5": "Sat",
        "weekday_6": "Sun",
    },
}


def text(key: str, language: str = "id", /, **fields: object) -> str:
    """The one lookup: `key` in `language`, else in Indonesian, else the key itself.

    With `fields` the text is formatted: `text("page_of", "en", page=1, pages=3, total=120)`.
    """
    found = _find(key, language) or key
    return found.format(**fields) if fields else found


def weekday_names(language: str) -> tuple[str, ...]:
    """Monday first, as `date.weekday()` counts."""
    return tuple(text(f"weekday_{day}", language) for day in range(7))


class Translator:
    """`text` bound to one language, for templates: `t("key")` or `t("key", page=1)`."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "id"

    def __call__(self, key: str, **fields: object) -> str:
        return text(key, self.language, **fields)

    def get(self, key: str, default: str) -> str:
        """The string for `key`, or `default` (e.g. a timeline action added after this table)."""
        return _find(key, self.language) or default

    def all(self) -> dict[str, str]:
        """Every string, for the page's JavaScript."""
        return STRINGS["id"] | STRINGS[self.language]


def _find(key: str, language: str) -> str | None:
    """`key` in `language`, else in Indonesian (the hub's default; an English gap shows Indonesian)."""
    return STRINGS.get(language, STRINGS["id"]).get(key) or STRINGS["id"].get(key)


def choose_language(query: str | None, cookie: str | None, default: str) -> str:
    for candidate in (query, cookie, default):
        if candidate in LANGUAGES:
            return candidate
    return "id"


def missing_keys(strings: Mapping[str, Mapping[str, str]] = STRINGS) -> dict[str, set[str]]:
    """Keys some language lacks (tests keep this empty)."""
    every = set().union(*(set(s) for s in strings.values()))
    return {lang: every - set(s) for lang, s in strings.items() if every - set(s)}
