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
        "bad_value": "⚠ nilai rusak",
        "post_state_new": "Diterima hub",
        "post_state_notified": "Petugas dihubungi",
        "post_state_acknowledged": "Petugas merespons",
        "post_state_en_route": "Petugas menuju lokasi",
        "post_state_resolved": "Selesai",
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
        "kind_broker_lost": "Broker MQTT terputus",
        "kind_peer_hub_lost": "Hub cadangan mati",
        "kind_ingest_stuck": "Hub tidak menerima kejadian",
        "kind_unstaffed": "Pos kosong",
        # The ronda page (hub/web/routes/ronda.py, templates/dashboard/ronda.html).
        "nav_ronda": "Ronda",
        "ronda_title": "Ronda malam",
        "ronda_hint": (
            "Malam ini per pos: siapa yang lapor, kapan terakhir, dan ronde yang terlewat. Atur regu ronda dengan"
            " perintah: poskamling ronda"
        ),
        "ronda_night": "Malam {night}",
        "ronda_hours": "Jam ronda",
        "ronda_guards": "Petugas ronda malam ini",
        "ronda_checkins": "Lapor ronda",
        "ronda_last": "Terakhir lapor",
        "ronda_missed": "Ronde terlewat",
        "ronda_status": "Keadaan",
        "ronda_staffed": "Dijaga",
        "ronda_no_guards": "Tidak ada jadwal",
        "ronda_none": "Belum ada yang lapor.",
        "ronda_no_posts": "Tidak ada pos yang dapat Anda lihat.",
        "ronda_unknown_card": "kartu tidak dikenal",
        "ronda_outside_hours": "di luar jam ronda (tidak dihitung)",
        "ronda_button": "tombol",
        # Ronda & Sambang page and the weekly village report (hub/web/routes/ronda_sambang.py).
        "nav_ronda_sambang": "Ronda & Sambang",
        "rs_title": "Ronda & Sambang",
        "rs_hint": (
            "Malam ini per pos: siapa yang lapor ronda, kapan terakhir, ronde yang terlewat, dan kunjungan polisi"
            " terakhir. Di bawahnya: kepatuhan ronda dan kunjungan per desa selama 7 malam terakhir."
        ),
        "rs_weekly_report": "Laporan mingguan desa",
        "rs_rawan_title": "Pos rawan: kunjungi lebih dulu",
        "rs_rawan_hint": (
            "Pos dengan kejadian (panik, sabotase, laporan warga yang bukan palsu) dalam 30 hari terakhir dan "
            "tanpa kunjungan polisi dalam 7 hari terakhir."
        ),
        "rs_rawan": "Rawan",
        "rs_rawan_line": "{incidents} kejadian dalam 30 hari",
        "rs_rawan_none": "Tidak ada pos rawan: setiap pos dengan kejadian sudah dikunjungi dalam 7 hari terakhir.",
        "rs_last_visit": "Kunjungan polisi terakhir",
        "rs_never": "belum pernah",
        "rs_tonight": "Malam ini",
        "rs_checked_in": "Sudah lapor",
        "rs_week_title": "7 malam terakhir per desa",
        "rs_week_hint": (
            "Kepatuhan ronda = ronde ditepati / ronde seharusnya, menurut aturan ronde pada malam yang ada jadwal"
            " regunya. Kunjungan dan kejadian: 7 hari terakhir."
        ),
        "rs_compliance": "Kepatuhan ronda",
        "rs_rounds": "{kept} dari {expected} ronde",
        "rs_meter": "Grafik",
        "rs_visits": "Kunjungan sambang",
        "rs_incidents": "Kejadian",
        "rs_flagged": "{count} ditandai",
        "vr_title": "Laporan mingguan desa",
        "vr_org": "Polsek · Pos Kamling · Bhabinkamtibmas",
        "vr_controls": "Pilihan laporan",
        "vr_week": "Minggu",
        "vr_show": "Tampilkan",
        "vr_csv": "Unduh CSV",
        "vr_print_hint": "Cetak dengan Ctrl+P; bagian ini tidak ikut tercetak.",
        "vr_period": "Minggu {week}: Senin {first} sampai Minggu {last} (malam Senin sampai malam Minggu)",
        "vr_false": "{count} alarm/laporan palsu tidak dihitung",
        "vr_tta_median": "Waktu tanggap (median)",
        "vr_ttr_median": "Waktu selesai (median)",
        "vr_tta_max": "Waktu tanggap (terlama)",
        "vr_ttr_max": "Waktu selesai (terlama)",
        "vr_tta": "Waktu tanggap",
        "vr_ttr": "Waktu selesai",
        "vr_per_post": "Per pos",
        "vr_nights": "Malam berjadwal",
        "vr_response": "Waktu tanggap per jenis kejadian",
        "vr_count": "Jumlah",
        "vr_acknowledged": "Ditanggapi",
        "vr_acknowledged_by": "Ditanggapi oleh",
        "vr_no_incidents": "Tidak ada kejadian minggu ini.",
        "vr_incident_list": "Daftar kejadian",
        "vr_method": (
            "Kejadian: panik, sabotase, laporan warga dan eskalasinya; alarm uji dan laporan palsu tidak "
            "dihitung. Waktu tanggap: dari kejadian sampai petugas menanggapi; waktu selesai: sampai ditutup "
            "(jam:menit:detik). Kepatuhan ronda menurut jadwal regu ronda saat ini."
        ),
        "vr_generated": "Dibuat {time}",
        "vr_sign_bhabin": "Bhabinkamtibmas",
        "vr_sign_kapolsek": "Mengetahui, Kapolsek",
        "vr_total": "JUMLAH",
        "vr_csv_week": "minggu",
        "vr_csv_village": "desa",
        "vr_csv_device": "perangkat",
        "vr_csv_post": "pos",
        "vr_csv_nights": "malam_berjadwal",
        "vr_csv_rounds_expected": "ronde_seharusnya",
        "vr_csv_rounds_kept": "ronde_ditepati",
        "vr_csv_compliance_pct": "kepatuhan_persen",
        "vr_csv_visits": "kunjungan",
        "vr_csv_visits_flagged": "kunjungan_ditandai",
        "vr_csv_incidents": "kejadian",
        "vr_csv_panic": "panik",
        "vr_csv_tamper": "sabotase",
        "vr_csv_incident": "eskalasi",
        "vr_csv_report": "laporan_warga",
        "vr_csv_false_alarms": "palsu",
        "vr_csv_acknowledged": "ditanggapi",
        "vr_csv_tta_median_s": "tanggap_median_detik",
        "vr_csv_tta_max_s": "tanggap_terlama_detik",
        "vr_csv_resolved": "selesai",
        "vr_csv_ttr_median_s": "selesai_median_detik",
        "vr_csv_ttr_max_s": "selesai_terlama_detik",
        "deadletters_title": "Pesan gagal (dead letter)",
        "deadletters_hint": (
            "Pesan yang lolos validasi tetapi gagal diproses hub. Sudah dikonfirmasi ke broker agar tidak "
            "menghambat pos lain; isinya disimpan di sini."
        ),
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
        "next_page": "Berikutnya »",
        "newest_page": "« Terbaru",
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
            "{test}{repeat}{label} di {post}, {village}.\nWaktu: {time} {tz}\n{map}{ack}Buka & konfirmasi: {link}"
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
        "page_kind_broker_lost": "BROKER MQTT TERPUTUS",
        "page_kind_peer_hub_lost": "HUB CADANGAN MATI",
        "page_kind_ingest_stuck": "HUB TIDAK MENERIMA KEJADIAN",
        "page_kind_unstaffed": "POS KOSONG",
        # Residents' reports and police visits from the post's poster (hub/community, routes sambang.py, lapor.py).
        "kind_report": "Laporan warga",
        "kind_incident": "Laporan warga (eskalasi)",
        "page_kind_report": "LAPORAN WARGA",
        "page_kind_incident": "LAPORAN WARGA DIESKALASI",
        "community_post": "Pos",
        "community_village": "Desa/Kelurahan",
        "community_photo": "Foto (boleh kosong; JPEG atau PNG, maks. 5 MB)",
        "community_location_wait": "Mencari lokasi…",
        "community_location_ok": "Lokasi didapat (±{meters} m).",
        "community_location_none": "Lokasi tidak tersedia. Laporan tetap dapat dikirim.",
        "community_error_title": "Tautan tidak dapat dipakai",
        "community_link_invalid": "Tautan ini tidak sah. Pindai ulang poster di pos, atau hubungi Polsek.",
        "community_link_expired": "Tautan ini sudah kedaluwarsa. Minta poster atau tautan baru ke Polsek.",
        "community_link_missing": "Pos ini tidak dikenal lagi oleh Polsek.",
        "community_error_photo_too_large": "Foto terlalu besar (maks. 5 MB).",
        "community_error_photo_not_an_image": "Foto harus berupa JPEG atau PNG.",
        "community_error_photo_damaged": "Foto rusak atau tidak dapat dibaca.",
        "community_error_phone": "Nomor HP tidak valid (contoh: 0812 3456 7890).",
        "community_error_category": "Pilih apa yang terjadi.",
        "community_error_too_big": "Kiriman terlalu besar (maks. 5 MB).",
        "community_error_form": "Formulir sudah kedaluwarsa. Buka ulang halaman dari poster.",
        "community_error_unavailable": "Sistem sedang sibuk. Coba lagi sebentar lagi. Darurat: telepon 110.",
        "sambang_title": "Kunjungan polisi (sambang)",
        "sambang_officer": "Petugas",
        "sambang_note": "Catatan (boleh kosong)",
        "sambang_submit": "Catat kunjungan",
        "sambang_login_needed": (
            "Anda belum dikenali sebagai petugas. Buka sekali tautan pribadi Anda di ponsel ini (minta ke admin "
            "Polsek), atau masuk ke dasbor, lalu pindai poster ini lagi."
        ),
        "sambang_login": "Masuk ke dasbor",
        "sambang_recorded": "Kunjungan tercatat",
        "sambang_time": "Waktu",
        "sambang_distance": "Jarak dari pos: {meters} m.",
        "sambang_flag_far": "Ditandai: lokasi ponsel {meters} m dari pos (lebih dari 300 m).",
        "sambang_flag_no_location": "Ditandai: lokasi tidak diberikan.",
        "sambang_flag_post_unplaced": "Lokasi pos belum diatur, jarak tidak dapat diperiksa.",
        "sambang_too_soon": (
            "Kunjungan Anda ke pos ini sudah tercatat pukul {time}. Satu kunjungan per petugas per pos per jam."
        ),
        "sambang_last": "Kunjungan terakhir Anda di pos ini: {time}.",
        "sambang_personal_ok": "Tautan pribadi tersimpan di ponsel ini untuk {name}. Sekarang pindai poster di pos.",
        "lapor_title": "Lapor cepat",
        "lapor_intro": (
            "Laporkan kejadian di sekitar pos ini ke Polsek, tanpa akun dan tanpa aplikasi. Keadaan darurat: "
            "telepon 110."
        ),
        "lapor_category": "Apa yang terjadi?",
        "lapor_cat_pencurian": "Pencurian",
        "lapor_cat_mencurigakan": "Orang atau kendaraan mencurigakan",
        "lapor_cat_keributan": "Keributan atau perkelahian",
        "lapor_cat_kebakaran": "Kebakaran",
        "lapor_cat_kecelakaan": "Kecelakaan",
        "lapor_cat_lainnya": "Lainnya",
        "lapor_text": "Ceritakan singkat (boleh kosong)",
        "lapor_phone": "Nomor HP untuk dihubungi kembali (boleh kosong)",
        "lapor_share_location": "Bagikan lokasi saya (juga lokasi yang tersimpan di foto)",
        "lapor_submit": "Kirim laporan",
        "lapor_thanks_title": "Laporan terkirim",
        "lapor_thanks": "Terima kasih. Laporan Anda sudah masuk ke petugas Polsek.",
        "lapor_throttled_address": (
            "Terlalu banyak laporan dari jaringan ini. Coba lagi dalam {minutes} menit. Keadaan darurat: telepon 110."
        ),
        "lapor_throttled_post": (
            "Pos ini sedang menerima terlalu banyak laporan. Coba lagi dalam {minutes} menit. Keadaan darurat: "
            "telepon 110."
        ),
        "report_heading": "Laporan warga",
        "report_category": "Kategori",
        "report_text": "Isi laporan",
        "report_phone": "No. HP pelapor",
        "report_count": "Jumlah laporan",
        "report_photo": "Foto",
        "report_location": "Lokasi pelapor",
        "report_escalate": "Eskalasi ke petugas",
        "report_false": "Laporan palsu",
        "report_actions_hint": (
            "Eskalasi memanggil petugas jaga seperti tombol panik. Laporan palsu menutup laporan dan dihitung di rekap."
        ),
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
        # Operators' actions on alerts: notes, assigning an officer, reported incidents, procedures (issue 15).
        "kind_manual": "Laporan masuk (telepon/langsung)",
        "page_kind_manual": "LAPORAN MASUK",
        "tl_note": "catatan",
        "tl_assigned": "ditugaskan ke",
        "tl_reported": "laporan dicatat",
        "page_manual_line": "Laporan {source}: {category} - {description} (pelapor: {reporter})",
        "manual_source_phone": "telepon",
        "manual_source_in_person": "langsung (datang ke Polsek)",
        "manual_cat_theft": "Pencurian",
        "manual_cat_disturbance": "Keributan atau perkelahian",
        "manual_cat_fire": "Kebakaran",
        "manual_cat_accident": "Kecelakaan",
        "manual_cat_medical": "Darurat medis",
        "manual_cat_suspicious": "Orang atau kendaraan mencurigakan",
        "manual_cat_other": "Lainnya",
        "page_assigned_title": "{test}[DITUGASKAN: {label}] {post}",
        "page_assigned_body": (
            "{test}Anda ditugaskan menangani {label} di {post}, {village} (oleh {by}).\n"
            "Waktu: {time} {tz}\n"
            "{map}{ack}Buka & konfirmasi: {link}"
        ),
        "assigned_to": "Ditugaskan ke",
        "not_assigned": "Belum ada petugas ditugaskan",
        "notes_heading": "Catatan operator",
        "note_add": "Tambah catatan",
        "note_placeholder": "Misalnya: pelapor menelepon lagi, pelaku lari ke arah utara",
        "assign_heading": "Tugaskan petugas",
        "assign_officer": "Petugas",
        "assign_button": "Tugaskan & kirim pesan",
        "assign_none": "Belum ada petugas di daftar. Isi daftar petugas dulu.",
        "assign_hint": "Petugas menerima pesan “Anda ditugaskan” dengan tautan konfirmasi.",
        "action_saved": "Tersimpan.",
        "procedure_heading": "Prosedur",
        "procedure_default_badge": "bawaan",
        "procedure_custom_badge": "diubah oleh {by}",
        "procedures_title": "Prosedur per jenis peringatan",
        "procedures_hint": "Ditampilkan di halaman setiap peringatan. Hanya admin yang dapat mengubah.",
        "procedure_save": "Simpan prosedur",
        "procedure_reset": "Kembalikan ke bawaan",
        "nav_incident_new": "Catat laporan",
        "nav_procedures": "Prosedur",
        "incident_title": "Catat laporan masuk (telepon atau langsung)",
        "incident_hint": (
            "Laporan ini menjadi peringatan untuk pos yang dipilih dan memanggil petugas jaga seperti tombol panik."
        ),
        "incident_post": "Pos",
        "incident_kind": "Jenis kejadian",
        "incident_source": "Diterima lewat",
        "incident_description": "Keterangan",
        "incident_reporter": "Nama pelapor",
        "incident_reporter_phone": "No. HP pelapor (boleh kosong)",
        "incident_submit": "Catat & panggil petugas",
        "incident_no_posts": "Tidak ada pos yang dapat dipilih.",
        "manual_heading": "Laporan masuk",
        "manual_entered_by": "Dicatat oleh",
        "operators_only": "Halaman ini hanya untuk operator.",
        "field_text": "Teks",
        "field_description": "Keterangan",
        "field_reporter": "Nama pelapor",
        "field_reporter_phone": "No. HP pelapor",
        "field_kind": "Jenis",
        "field_source": "Diterima lewat",
        "field_post": "Pos",
        "field_officer_id": "Petugas",
        "invalid_empty": "tidak boleh kosong",
        "invalid_too_long": "terlalu panjang",
        "invalid_control_chars": "berisi karakter kontrol yang tidak diizinkan",
        "invalid_unknown": "tidak dikenal",
        "invalid_format": "format salah",
        "invalid_type": "harus berupa teks",
        "invalid_missing": "wajib diisi",
        "procedure_panic": (
            "1. Segera hubungi petugas jaga / Bhabinkamtibmas desa pos ini; jangan tunggu konfirmasi.\n"
            "2. Telepon ketua ronda atau warga di pos untuk menanyakan keadaan.\n"
            "3. Jika ada korban atau pelaku bersenjata: kirim unit terdekat dan hubungi 110.\n"
            "4. Catat setiap langkah di catatan peringatan ini.\n"
            "5. Selesaikan hanya setelah petugas tiba atau keadaan dipastikan aman."
        ),
        "procedure_tamper": (
            "1. Lihat foto kamera pos ini bila ada.\n"
            "2. Hubungi ketua ronda atau warga terdekat untuk memeriksa kotak perangkat.\n"
            "3. Jika perangkat dibongkar atau hilang: tugaskan petugas ke lokasi dan laporkan ke teknisi.\n"
            "4. Catat temuan di catatan peringatan ini."
        ),
        "procedure_camera": (
            "1. Periksa apakah pos masih terhubung (halaman Pos).\n"
            "2. Minta warga di pos memeriksa kabel dan lampu kamera.\n"
            "3. Jika kamera tidak kembali dalam 1 jam: laporkan ke teknisi.\n"
            "4. Tombol panik tetap berfungsi tanpa kamera."
        ),
        "procedure_motion": (
            "1. Lihat foto gerakan di halaman ini.\n"
            "2. Jika ada orang mencurigakan: hubungi ketua ronda atau petugas jaga.\n"
            "3. Jika hanya hewan atau bayangan: selesaikan sebagai alarm palsu."
        ),
        "procedure_offline": (
            "1. Pos tidak dapat mengirim tombol panik selama terputus.\n"
            "2. Telepon ketua ronda pos ini untuk memeriksa listrik dan internet.\n"
            "3. Jika terputus lebih dari 30 menit malam hari: tugaskan petugas untuk patroli ke pos.\n"
            "4. Laporkan ke teknisi bila berulang."
        ),
        "procedure_health": (
            "1. Baca pesan kondisi pos (suhu, baterai, penyimpanan).\n"
            "2. Laporkan ke teknisi pada jam kerja; bukan keadaan darurat."
        ),
        "procedure_flood": (
            "1. Pos mengirim terlalu banyak pesan dan diblokir sementara: tombol paniknya tidak sampai.\n"
            "2. Segera hubungi teknisi; perangkat mungkin rusak atau dicuri.\n"
            "3. Telepon ketua ronda pos ini dan minta melapor lewat telepon bila ada kejadian."
        ),
        "procedure_poison": (
            "1. Pesan dari pos ini gagal diproses hub.\n"
            "2. Hubungi teknisi; lihat daftar pesan gagal (admin).\n"
            "3. Minta warga pos melapor lewat telepon sampai diperbaiki."
        ),
        "procedure_broker_lost": (
            "1. Hub kehilangan salah satu broker MQTT: pos yang memakainya pindah ke broker lain.\n"
            "2. Hubungi teknisi untuk memeriksa mesin broker tersebut.\n"
            "3. Sampai pulih, sektor tidak punya broker cadangan."
        ),
        "procedure_peer_hub_lost": (
            "1. Hub lain di sektor ini mati atau dihentikan; hub ini tetap melayani semua pos.\n"
            "2. Hubungi teknisi: sampai pulih, sektor tidak punya hub cadangan."
        ),
        "procedure_ingest_stuck": (
            "1. Hub tidak menerima kejadian: tombol panik dari semua pos mungkin tidak sampai.\n"
            "2. Hubungi teknisi segera.\n"
            "3. Umumkan ke ketua ronda semua pos agar melapor lewat telepon sampai pulih."
        ),
        "procedure_unstaffed": (
            "1. Telepon ketua ronda atau penjaga yang dijadwalkan malam ini.\n"
            "2. Jika tidak ada yang menjaga: minta Bhabinkamtibmas atau petugas patroli melintasi pos.\n"
            "3. Catat alasan pos kosong di catatan peringatan ini."
        ),
        "procedure_report": (
            "1. Baca laporan warga dan lihat fotonya bila ada.\n"
            "2. Telepon pelapor bila nomornya ada untuk memastikan.\n"
            "3. Jika nyata: eskalasi ke petugas. Jika palsu: tandai laporan palsu."
        ),
        "procedure_incident": (
            "1. Petugas jaga sudah dipanggil; pastikan ada yang mengonfirmasi.\n"
            "2. Telepon pelapor bila nomornya ada.\n"
            "3. Tugaskan petugas terdekat dan catat setiap langkah."
        ),
        "procedure_manual": (
            "1. Pastikan nama dan nomor pelapor tercatat.\n"
            "2. Petugas jaga dipanggil otomatis; tugaskan petugas terdekat bila perlu.\n"
            "3. Keadaan darurat jiwa atau kebakaran: hubungi juga 110 / 113 / 118.\n"
            "4. Hubungi pelapor kembali setelah petugas tiba dan catat hasilnya."
        ),
        # Commands to a post from its page (issue 15: hub/web/routes/post_actions.py).
        "post_title": "Pos",
        "post_commands": "Perintah ke pos",
        "post_commands_hint": "Pos yang sedang offline menerima perintah saat kembali online, selama perintah belum kedaluwarsa.",
        "cmd_ping": "Ping pos",
        "cmd_test_siren": "Uji sirene",
        "cmd_silence_siren": "Matikan sirene",
        "cmd_snapshot": "Ambil foto sekarang",
        "cmd_reload": "Muat ulang",
        "cmd_state_pending": "Menunggu jawaban",
        "cmd_state_done": "Selesai",
        "cmd_state_failed": "Gagal",
        "cmd_state_expired": "Kedaluwarsa",
        "cmd_state_unknown": "Tidak dikenal pos",
        "cmd_col_command": "Perintah",
        "cmd_col_by": "Oleh",
        "cmd_col_issued": "Dikirim",
        "cmd_col_result": "Hasil",
        "cmd_rtt": "waktu pulang-pergi {ms} ms",
        "cmd_none": "Belum ada perintah.",
        "cmd_snapshots": "Foto atas perintah",
        "cmd_snapshot_waiting": "foto sedang dikirim",
        "cmd_silence_note": "Mematikan sirene tidak menutup peringatan panik.",
        "cmd_error": "Perintah tidak terkirim",
        "post_not_found": "Pos tidak ditemukan.",
        # The reports page (hub/web/routes/reports_page.py, issue 15).
        "nav_reports": "Laporan",
        "rp_title": "Laporan tanggap dan jam rawan",
        "rp_intro": "Kejadian: panik, sabotase, laporan warga (eskalasi dihitung sekali); tanpa alarm palsu. Waktu dalam {zone}.",
        "rp_since": "Dari tanggal",
        "rp_until": "Sampai tanggal",
        "rp_include_tests": "Sertakan uji coba",
        "rp_show": "Tampilkan",
        "rp_period": "Periode {first} s.d. {last}",
        "rp_scope": "Hanya desa: {villages}",
        "rp_field_since": "Dari tanggal (since)",
        "rp_field_until": "Sampai tanggal (until)",
        "rp_field_include_tests": "Sertakan uji coba (include_tests)",
        "rp_err_date": "{field}: bukan tanggal yang sah (TTTT-BB-HH, tahun 2000-2999).",
        "rp_err_order": "{field}: harus sama dengan atau sesudah tanggal mulai.",
        "rp_err_span": "{field}: rentang paling lama 366 hari.",
        "rp_err_flag": "{field}: isi 1 atau 0.",
        "rp_memory_only": "Basis data tidak terjangkau: hanya peringatan yang ada di memori hub (terbuka dan 48 jam terakhir).",
        "rp_capped": "Terlalu banyak peringatan dalam rentang ini: hanya sebagian yang dihitung. Pilih rentang lebih pendek.",
        "rp_incidents": "Kejadian",
        "rp_false_alarms": "Alarm palsu",
        "rp_acknowledged": "Ditanggapi",
        "rp_resolved": "Diselesaikan",
        "rp_by_village": "Waktu tanggap per desa",
        "rp_by_officer": "Waktu tanggap per petugas",
        "rp_by_post": "Kejadian per pos",
        "rp_response_desc": "Waktu sampai konfirmasi, median (p50) dan p90, per kelompok; {count} kelompok, paling lambat di atas.",
        "rp_post_desc": "Jumlah kejadian per pos, terbanyak di atas; {count} pos dengan kejadian.",
        "rp_heat_title": "Jam rawan: kejadian per jam dalam seminggu",
        "rp_heat_desc": "{count} kejadian menurut hari (Senin sampai Minggu) dan jam waktu setempat; makin merah makin banyak.",
        "rp_heat_cell": "{day} {hour}:00: {count} kejadian",
        "rp_tta_p50": "Tanggap p50",
        "rp_tta_p90": "Tanggap p90",
        "rp_none": "Tidak ada kejadian dalam rentang ini.",
        "rp_csv": "Unduh CSV",
        "rp_top_hours": "Jam tersibuk",
        "rp_col_day": "Hari",
        "rp_col_hour": "Jam",
        "rp_th_officer": "Petugas",
        "rp_th_count": "Kejadian",
        "rp_th_acknowledged": "Ditanggapi",
        "rp_th_tta": "Tanggap p50 / p90 / maks.",
        "rp_th_resolved": "Selesai",
        "rp_th_ttr": "Selesai p50 / p90 / maks.",
        "rp_csv_village": "desa",
        "rp_csv_officer": "petugas",
        "rp_csv_device": "perangkat",
        "rp_csv_post": "pos",
        "rp_csv_count": "kejadian",
        "rp_csv_acknowledged": "ditanggapi",
        "rp_csv_tta_p50": "tanggap_p50_detik",
        "rp_csv_tta_p90": "tanggap_p90_detik",
        "rp_csv_tta_max": "tanggap_maks_detik",
        "rp_csv_resolved": "selesai",
        "rp_csv_ttr_p50": "selesai_p50_detik",
        "rp_csv_ttr_p90": "selesai_p90_detik",
        "rp_csv_ttr_max": "selesai_maks_detik",
        "rp_csv_incidents": "kejadian",
        "rp_csv_panic": "panik",
        "rp_csv_tamper": "sabotase",
        "rp_csv_incident": "eskalasi",
        "rp_csv_report": "laporan_warga",
        "rp_csv_false_alarms": "palsu",
        "rp_csv_weekday": "hari",
        # Pictures from around a panic or tamper press (issue 15): the alert page's strip.
        "evidence_strip": "Foto sekitar saat tombol ditekan",
        "evidence_offset": "{offset} dtk",
        "evidence_at_press": "saat ditekan",
    },
    "en": {
        "app_name": "Pos Kamling",
        "bad_value": "⚠ bad value",
        "post_state_new": "Received by the hub",
        "post_state_notified": "Officer contacted",
        "post_state_acknowledged": "Officer responding",
        "post_state_en_route": "Officer on the way",
        "post_state_resolved": "Resolved",
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
        "kind_broker_lost": "MQTT broker lost",
        "kind_peer_hub_lost": "Standby hub down",
        "kind_ingest_stuck": "Hub not receiving events",
        "kind_unstaffed": "Post unstaffed",
        "nav_ronda": "Night watch",
        "ronda_title": "Night watch (ronda)",
        "ronda_hint": (
            "Tonight per post: who checked in, when last, and missed rounds. Manage the ronda roster with: "
            "poskamling ronda"
        ),
        "ronda_night": "Night of {night}",
        "ronda_hours": "Ronda hours",
        "ronda_guards": "Guards tonight",
        "ronda_checkins": "Check-ins",
        "ronda_last": "Last check-in",
        "ronda_missed": "Missed rounds",
        "ronda_status": "Status",
        "ronda_staffed": "Staffed",
        "ronda_no_guards": "No ronda rostered",
        "ronda_none": "No check-in yet.",
        "ronda_no_posts": "No post you may see.",
        "ronda_unknown_card": "unknown card (kartu tidak dikenal)",
        "ronda_outside_hours": "outside ronda hours (not counted)",
        "ronda_button": "button",
        # Ronda & Sambang page and the weekly village report (hub/web/routes/ronda_sambang.py).
        "nav_ronda_sambang": "Ronda & Sambang",
        "rs_title": "Ronda & Sambang",
        "rs_hint": (
            "Tonight per post: who checked in, when last, missed rounds, and the last police visit. Below: ronda "
            "compliance and visits per village over the last 7 nights."
        ),
        "rs_weekly_report": "Weekly village report",
        "rs_rawan_title": "Rawan posts: visit these first",
        "rs_rawan_hint": (
            "Posts with incidents (panic, tamper, residents' reports not marked false) in the last 30 days and no"
            " police visit in the last 7 days."
        ),
        "rs_rawan": "Rawan",
        "rs_rawan_line": "{incidents} incident(s) in 30 days",
        "rs_rawan_none": "No rawan post: every post with incidents was visited in the last 7 days.",
        "rs_last_visit": "Last police visit",
        "rs_never": "never",
        "rs_tonight": "Tonight",
        "rs_checked_in": "Checked in",
        "rs_week_title": "Last 7 nights per village",
        "rs_week_hint": (
            "Ronda compliance = rounds kept / rounds expected, by the round rules, on nights with guards "
            "rostered. Visits and incidents: the last 7 days."
        ),
        "rs_compliance": "Ronda compliance",
        "rs_rounds": "{kept} of {expected} rounds",
        "rs_meter": "Chart",
        "rs_visits": "Sambang visits",
        "rs_incidents": "Incidents",
        "rs_flagged": "{count} flagged",
        "vr_title": "Weekly village report",
        "vr_org": "Polsek · Pos Kamling · Bhabinkamtibmas",
        "vr_controls": "Report options",
        "vr_week": "Week",
        "vr_show": "Show",
        "vr_csv": "Download CSV",
        "vr_print_hint": "Print with Ctrl+P; this bar is not printed.",
        "vr_period": "Week {week}: Monday {first} to Sunday {last} (Monday night to Sunday night)",
        "vr_false": "{count} false alarm(s)/report(s) not counted",
        "vr_tta_median": "Time to acknowledge (median)",
        "vr_ttr_median": "Time to resolve (median)",
        "vr_tta_max": "Time to acknowledge (longest)",
        "vr_ttr_max": "Time to resolve (longest)",
        "vr_tta": "Time to acknowledge",
        "vr_ttr": "Time to resolve",
        "vr_per_post": "Per post",
        "vr_nights": "Rostered nights",
        "vr_response": "Response times per kind of incident",
        "vr_count": "Count",
        "vr_acknowledged": "Acknowledged",
        "vr_acknowledged_by": "Acknowledged by",
        "vr_no_incidents": "No incidents this week.",
        "vr_incident_list": "Incidents",
        "vr_method": (
            "Incidents: panic, tamper, residents' reports and their escalations; walk tests and false reports are"
            " not counted. Time to acknowledge: from the alert to an officer's answer; time to resolve: to its "
            "closing (h:mm:ss). Ronda compliance by the current ronda roster."
        ),
        "vr_generated": "Generated {time}",
        "vr_sign_bhabin": "Bhabinkamtibmas",
        "vr_sign_kapolsek": "Acknowledged, Kapolsek",
        "vr_total": "TOTAL",
        "vr_csv_week": "week",
        "vr_csv_village": "village",
        "vr_csv_device": "device",
        "vr_csv_post": "post",
        "vr_csv_nights": "rostered_nights",
        "vr_csv_rounds_expected": "rounds_expected",
        "vr_csv_rounds_kept": "rounds_kept",
        "vr_csv_compliance_pct": "compliance_pct",
        "vr_csv_visits": "visits",
        "vr_csv_visits_flagged": "visits_flagged",
        "vr_csv_incidents": "incidents",
        "vr_csv_panic": "panic",
        "vr_csv_tamper": "tamper",
        "vr_csv_incident": "escalated",
        "vr_csv_report": "residents_reports",
        "vr_csv_false_alarms": "false",
        "vr_csv_acknowledged": "acknowledged",
        "vr_csv_tta_median_s": "tta_median_s",
        "vr_csv_tta_max_s": "tta_max_s",
        "vr_csv_resolved": "resolved",
        "vr_csv_ttr_median_s": "ttr_median_s",
        "vr_csv_ttr_max_s": "ttr_max_s",
        "deadletters_title": "Dead letters",
        "deadletters_hint": (
            "Messages that passed validation but failed in the hub. They were acknowledged to the broker so they "
            "hold up no other post; their content is kept here."
        ),
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
        "next_page": "Next »",
        "newest_page": "« Newest",
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
            "{test}{repeat}{label} at {post}, {village}.\nTime: {time} {tz}\n{map}{ack}Open & acknowledge: {link}"
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
        "page_kind_broker_lost": "MQTT BROKER LOST",
        "page_kind_peer_hub_lost": "STANDBY HUB DOWN",
        "page_kind_ingest_stuck": "HUB NOT RECEIVING EVENTS",
        "page_kind_unstaffed": "POST UNSTAFFED (POS KOSONG)",
        "kind_report": "Resident's report",
        "kind_incident": "Resident's report (escalated)",
        "page_kind_report": "RESIDENT'S REPORT",
        "page_kind_incident": "RESIDENT'S REPORT ESCALATED",
        "community_post": "Post",
        "community_village": "Village",
        "community_photo": "Photo (optional; JPEG or PNG, up to 5 MB)",
        "community_location_wait": "Finding your location…",
        "community_location_ok": "Location found (±{meters} m).",
        "community_location_none": "Location not available. You can still send.",
        "community_error_title": "This link cannot be used",
        "community_link_invalid": "This link is not valid. Scan the poster at the post again, or call the Polsek.",
        "community_link_expired": "This link has expired. Ask the Polsek for a new poster or link.",
        "community_link_missing": "The Polsek no longer knows this post.",
        "community_error_photo_too_large": "The photo is too large (5 MB at most).",
        "community_error_photo_not_an_image": "The photo must be a JPEG or PNG.",
        "community_error_photo_damaged": "The photo is damaged or unreadable.",
        "community_error_phone": "Not a valid phone number (e.g. 0812 3456 7890).",
        "community_error_category": "Choose what happened.",
        "community_error_too_big": "Too much data sent (5 MB at most).",
        "community_error_form": "This form has expired. Open the page from the poster again.",
        "community_error_unavailable": "The system is busy. Try again shortly. Emergency: call 110.",
        "sambang_title": "Police visit (sambang)",
        "sambang_officer": "Officer",
        "sambang_note": "Note (optional)",
        "sambang_submit": "Record visit",
        "sambang_login_needed": (
            "You are not recognised as an officer. Open your personal link once on this phone (ask the Polsek "
            "admin), or log in to the dashboard, then scan this poster again."
        ),
        "sambang_login": "Log in to the dashboard",
        "sambang_recorded": "Visit recorded",
        "sambang_time": "Time",
        "sambang_distance": "Distance from the post: {meters} m.",
        "sambang_flag_far": "Flagged: the phone was {meters} m from the post (more than 300 m).",
        "sambang_flag_no_location": "Flagged: no location was given.",
        "sambang_flag_post_unplaced": "The post has no location set; the distance cannot be checked.",
        "sambang_too_soon": (
            "Your visit to this post was already recorded at {time}. One visit per officer per post per hour."
        ),
        "sambang_last": "Your last visit to this post: {time}.",
        "sambang_personal_ok": "Personal link saved on this phone for {name}. Now scan the poster at a post.",
        "lapor_title": "Quick report",
        "lapor_intro": (
            "Report what happens around this post to the Polsek, with no account and no app. Emergency: call 110."
        ),
        "lapor_category": "What happened?",
        "lapor_cat_pencurian": "Theft",
        "lapor_cat_mencurigakan": "Suspicious person or vehicle",
        "lapor_cat_keributan": "Disturbance or fight",
        "lapor_cat_kebakaran": "Fire",
        "lapor_cat_kecelakaan": "Accident",
        "lapor_cat_lainnya": "Other",
        "lapor_text": "Tell us briefly (optional)",
        "lapor_phone": "Phone number for a call-back (optional)",
        "lapor_share_location": "Share my location (also the location stored in the photo)",
        "lapor_submit": "Send report",
        "lapor_thanks_title": "Report sent",
        "lapor_thanks": "Thank you. Your report has reached the Polsek's officers.",
        "lapor_throttled_address": (
            "Too many reports from this network. Try again in {minutes} minutes. Emergency: call 110."
        ),
        "lapor_throttled_post": (
            "This post is receiving too many reports. Try again in {minutes} minutes. Emergency: call 110."
        ),
        "report_heading": "Resident's report",
        "report_category": "Category",
        "report_text": "Report",
        "report_phone": "Reporter's phone",
        "report_count": "Reports",
        "report_photo": "Photo",
        "report_location": "Reporter's location",
        "report_escalate": "Escalate to officers",
        "report_false": "False report",
        "report_actions_hint": (
            "Escalating pages the officers on duty like a panic. A false report closes it and is counted."
        ),
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
        # Operators' actions on alerts: notes, assigning an officer, reported incidents, procedures (issue 15).
        "kind_manual": "Reported incident (phone/in person)",
        "page_kind_manual": "REPORTED INCIDENT",
        "tl_note": "note",
        "tl_assigned": "assigned to",
        "tl_reported": "report taken",
        "page_manual_line": "Reported {source}: {category} - {description} (reporter: {reporter})",
        "manual_source_phone": "by phone",
        "manual_source_in_person": "in person (at the Polsek)",
        "manual_cat_theft": "Theft",
        "manual_cat_disturbance": "Disturbance or fight",
        "manual_cat_fire": "Fire",
        "manual_cat_accident": "Accident",
        "manual_cat_medical": "Medical emergency",
        "manual_cat_suspicious": "Suspicious person or vehicle",
        "manual_cat_other": "Other",
        "page_assigned_title": "{test}[ASSIGNED: {label}] {post}",
        "page_assigned_body": (
            "{test}You are assigned to {label} at {post}, {village} (by {by}).\n"
            "Time: {time} {tz}\n"
            "{map}{ack}Open & acknowledge: {link}"
        ),
        "assigned_to": "Assigned to",
        "not_assigned": "No officer assigned yet",
        "notes_heading": "Operator notes",
        "note_add": "Add note",
        "note_placeholder": "E.g.: the caller phoned again, the suspect ran north",
        "assign_heading": "Assign an officer",
        "assign_officer": "Officer",
        "assign_button": "Assign & page",
        "assign_none": "No officers listed yet. Fill in the officers list first.",
        "assign_hint": "The officer receives a “you are assigned” page with an acknowledge link.",
        "action_saved": "Saved.",
        "procedure_heading": "Procedure",
        "procedure_default_badge": "default",
        "procedure_custom_badge": "edited by {by}",
        "procedures_title": "Procedures per alert kind",
        "procedures_hint": "Shown on every alert's page. Only admins can change them.",
        "procedure_save": "Save procedure",
        "procedure_reset": "Back to the default",
        "nav_incident_new": "Enter report",
        "nav_procedures": "Procedures",
        "incident_title": "Enter an incident reported by phone or in person",
        "incident_hint": "It becomes an alert for the chosen post and pages the officer on duty like a panic.",
        "incident_post": "Post",
        "incident_kind": "What happened",
        "incident_source": "Received",
        "incident_description": "Description",
        "incident_reporter": "Reporter's name",
        "incident_reporter_phone": "Reporter's phone (optional)",
        "incident_submit": "Enter & page officers",
        "incident_no_posts": "No post to choose from.",
        "manual_heading": "Reported incident",
        "manual_entered_by": "Entered by",
        "operators_only": "This page is for operators only.",
        "field_text": "Text",
        "field_description": "Description",
        "field_reporter": "Reporter's name",
        "field_reporter_phone": "Reporter's phone",
        "field_kind": "Kind",
        "field_source": "Received",
        "field_post": "Post",
        "field_officer_id": "Officer",
        "invalid_empty": "must not be empty",
        "invalid_too_long": "too long",
        "invalid_control_chars": "contains control characters that are not allowed",
        "invalid_unknown": "unknown",
        "invalid_format": "wrong format",
        "invalid_type": "must be text",
        "invalid_missing": "required",
        "procedure_panic": (
            "1. Call the officer on duty / the village's Bhabinkamtibmas at once; do not wait for an "
            "acknowledgement.\n"
            "2. Phone the ronda leader or residents at the post to ask what is happening.\n"
            "3. Casualties or an armed offender: send the nearest unit and call 110.\n"
            "4. Write every step in this alert's notes.\n"
            "5. Resolve only once officers have arrived or the situation is confirmed safe."
        ),
        "procedure_tamper": (
            "1. Look at the post's camera snapshots if there are any.\n"
            "2. Ask the ronda leader or a nearby resident to check the device box.\n"
            "3. Device opened or missing: assign an officer to the site and tell the technician.\n"
            "4. Write what was found in this alert's notes."
        ),
        "procedure_camera": (
            "1. Check whether the post is still connected (Posts page).\n"
            "2. Ask someone at the post to check the camera's cable and light.\n"
            "3. Camera not back within an hour: tell the technician.\n"
            "4. The panic button still works without the camera."
        ),
        "procedure_motion": (
            "1. Look at the motion snapshots on this page.\n"
            "2. A suspicious person: call the ronda leader or the officer on duty.\n"
            "3. Only an animal or a shadow: resolve as a false alarm."
        ),
        "procedure_offline": (
            "1. The post cannot send a panic while it is offline.\n"
            "2. Phone the post's ronda leader to check power and internet.\n"
            "3. Offline for more than 30 minutes at night: assign an officer to patrol past the post.\n"
            "4. Tell the technician if it keeps happening."
        ),
        "procedure_health": (
            "1. Read the post's health messages (temperature, battery, storage).\n"
            "2. Tell the technician during working hours; not an emergency."
        ),
        "procedure_flood": (
            "1. The post sent too many messages and is blocked for now: its panic button does not reach the "
            "hub.\n"
            "2. Call the technician at once; the device may be broken or stolen.\n"
            "3. Phone the post's ronda leader and ask them to report incidents by phone meanwhile."
        ),
        "procedure_poison": (
            "1. The hub cannot process this post's messages.\n"
            "2. Call the technician; see the dead letters (admin).\n"
            "3. Ask the post to report by phone until it is fixed."
        ),
        "procedure_broker_lost": (
            "1. The hub lost one of the MQTT brokers: the posts on it move to another broker.\n"
            "2. Call the technician to check that broker's machine.\n"
            "3. Until it recovers, the sector has no spare broker."
        ),
        "procedure_peer_hub_lost": (
            "1. Another hub of this sector is down or stopped; this hub still serves every post.\n"
            "2. Call the technician: until it recovers, the sector has no spare hub."
        ),
        "procedure_ingest_stuck": (
            "1. The hub is not receiving events: panics from every post may not arrive.\n"
            "2. Call the technician at once.\n"
            "3. Tell every post's ronda leader to report by phone until it recovers."
        ),
        "procedure_unstaffed": (
            "1. Phone the ronda leader or the guards rostered tonight.\n"
            "2. Nobody on watch: ask the Bhabinkamtibmas or a patrol to pass by the post.\n"
            "3. Write why the post was empty in this alert's notes."
        ),
        "procedure_report": (
            "1. Read the resident's report and look at the photo if there is one.\n"
            "2. Phone the reporter if a number was given, to confirm.\n"
            "3. Real: escalate to the officers. False: mark it a false report."
        ),
        "procedure_incident": (
            "1. The officer on duty has been paged; make sure someone acknowledges.\n"
            "2. Phone the reporter if a number was given.\n"
            "3. Assign the nearest officer and write every step in the notes."
        ),
        "procedure_manual": (
            "1. Make sure the reporter's name and number are written down.\n"
            "2. The officer on duty is paged automatically; assign the nearest officer if needed.\n"
            "3. Life-threatening or a fire: also call 110 / 113 / 118.\n"
            "4. Call the reporter back once officers have arrived and note the result."
        ),
        "post_title": "Post",
        "post_commands": "Commands to the post",
        "post_commands_hint": "A post that is offline gets a command when it comes back online, unless the command has expired.",
        "cmd_ping": "Ping the post",
        "cmd_test_siren": "Test the siren",
        "cmd_silence_siren": "Silence the siren",
        "cmd_snapshot": "Take a picture now",
        "cmd_reload": "Reload",
        "cmd_state_pending": "Waiting for the answer",
        "cmd_state_done": "Done",
        "cmd_state_failed": "Failed",
        "cmd_state_expired": "Expired",
        "cmd_state_unknown": "Unknown to the post",
        "cmd_col_command": "Command",
        "cmd_col_by": "By",
        "cmd_col_issued": "Sent",
        "cmd_col_result": "Result",
        "cmd_rtt": "round trip {ms} ms",
        "cmd_none": "No commands yet.",
        "cmd_snapshots": "Pictures taken on command",
        "cmd_snapshot_waiting": "picture on its way",
        "cmd_silence_note": "Silencing the siren does not close the panic alert.",
        "cmd_error": "The command was not sent",
        "post_not_found": "Post not found.",
        # The reports page (hub/web/routes/reports_page.py, issue 15).
        "nav_reports": "Reports",
        "rp_title": "Response and crime-prone hours report",
        "rp_intro": "Incidents: panic, tampering, residents' reports (an escalated one counted once); false alarms left out. Times in {zone}.",
        "rp_since": "From date",
        "rp_until": "To date",
        "rp_include_tests": "Include walk tests",
        "rp_show": "Show",
        "rp_period": "Period {first} to {last}",
        "rp_scope": "Villages only: {villages}",
        "rp_field_since": "From date (since)",
        "rp_field_until": "To date (until)",
        "rp_field_include_tests": "Include walk tests (include_tests)",
        "rp_err_date": "{field}: not a valid date (YYYY-MM-DD, years 2000-2999).",
        "rp_err_order": "{field}: must be on or after the start date.",
        "rp_err_span": "{field}: the range may be at most 366 days.",
        "rp_err_flag": "{field}: use 1 or 0.",
        "rp_memory_only": "Database unreachable: only the alerts in the hub's memory (open, and the last 48 hours) are counted.",
        "rp_capped": "Too many alerts in this range: only part of them is counted. Choose a shorter range.",
        "rp_incidents": "Incidents",
        "rp_false_alarms": "False alarms",
        "rp_acknowledged": "Acknowledged",
        "rp_resolved": "Resolved",
        "rp_by_village": "Time to acknowledge per village",
        "rp_by_officer": "Time to acknowledge per officer",
        "rp_by_post": "Incidents per post",
        "rp_response_desc": "Time until acknowledged, median (p50) and p90, per group; {count} groups, slowest first.",
        "rp_post_desc": "Incidents per post, most first; {count} posts with incidents.",
        "rp_heat_title": "Crime-prone hours: incidents per hour of the week",
        "rp_heat_desc": "{count} incidents by day (Monday to Sunday) and hour of local time; the redder, the more.",
        "rp_heat_cell": "{day} {hour}:00: {count} incidents",
        "rp_tta_p50": "Acknowledge p50",
        "rp_tta_p90": "Acknowledge p90",
        "rp_none": "No incidents in this range.",
        "rp_csv": "Download CSV",
        "rp_top_hours": "Busiest hours",
        "rp_col_day": "Day",
        "rp_col_hour": "Hour",
        "rp_th_officer": "Officer",
        "rp_th_count": "Incidents",
        "rp_th_acknowledged": "Acknowledged",
        "rp_th_tta": "Acknowledge p50 / p90 / max",
        "rp_th_resolved": "Resolved",
        "rp_th_ttr": "Resolve p50 / p90 / max",
        "rp_csv_village": "village",
        "rp_csv_officer": "officer",
        "rp_csv_device": "device",
        "rp_csv_post": "post",
        "rp_csv_count": "incidents",
        "rp_csv_acknowledged": "acknowledged",
        "rp_csv_tta_p50": "tta_p50_s",
        "rp_csv_tta_p90": "tta_p90_s",
        "rp_csv_tta_max": "tta_max_s",
        "rp_csv_resolved": "resolved",
        "rp_csv_ttr_p50": "ttr_p50_s",
        "rp_csv_ttr_p90": "ttr_p90_s",
        "rp_csv_ttr_max": "ttr_max_s",
        "rp_csv_incidents": "incidents",
        "rp_csv_panic": "panic",
        "rp_csv_tamper": "tamper",
        "rp_csv_incident": "escalated",
        "rp_csv_report": "residents_reports",
        "rp_csv_false_alarms": "false_alarms",
        "rp_csv_weekday": "weekday",
        # Pictures from around a panic or tamper press (issue 15): the alert page's strip.
        "evidence_strip": "Pictures around the press",
        "evidence_offset": "{offset} s",
        "evidence_at_press": "at the press",
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
