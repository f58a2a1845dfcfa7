"""Real Belgian NIS code changes and a few anchor municipalities, embedded so that the synthetic
geography needs no reference folder.

The code changes are public facts (Statbel REFNIS): on 1-1-2019 15 Flemish municipalities merged into 7
and 11 Hainaut municipalities were renumbered in the arrondissement reform; on 1-1-2025 30 codes merged
into 14 (Antwerpen keeps 11002). Coordinates are rough Belgian Lambert 72 positions (metres) of the
places, good to a few km: enough for a synthetic country whose neighbours are neighbours.
"""

from __future__ import annotations

# old_nis, old name, new_nis, new name, change_type, approximate x, y of the old municipality
CHANGES_2019: tuple[tuple[str, str, str, str, str, float, float], ...] = (
    ("12030", "Puurs", "12041", "Puurs-Sint-Amands", "merger", 141_000, 199_000),
    ("12034", "Sint-Amands", "12041", "Puurs-Sint-Amands", "merger", 136_000, 197_000),
    ("44011", "Deinze", "44083", "Deinze", "merger", 91_000, 184_000),
    ("44049", "Nevele", "44083", "Deinze", "merger", 94_000, 190_000),
    ("44001", "Aalter", "44084", "Aalter", "merger", 83_000, 199_000),
    ("44029", "Knesselare", "44084", "Aalter", "merger", 82_000, 204_000),
    ("44036", "Lovendegem", "44085", "Lievegem", "merger", 98_000, 200_000),
    ("44072", "Waarschoot", "44085", "Lievegem", "merger", 95_000, 205_000),
    ("44080", "Zomergem", "44085", "Lievegem", "merger", 92_000, 201_000),
    ("45017", "Kruishoutem", "45068", "Kruisem", "merger", 93_000, 176_000),
    ("45057", "Zingem", "45068", "Kruisem", "merger", 99_000, 174_000),
    ("71047", "Opglabbeek", "72042", "Oudsbergen", "merger", 228_000, 195_000),
    ("72040", "Meeuwen-Gruitrode", "72042", "Oudsbergen", "merger", 233_000, 200_000),
    ("72025", "Neerpelt", "72043", "Pelt", "merger", 222_000, 219_000),
    ("72029", "Overpelt", "72043", "Pelt", "merger", 221_000, 215_000),
    ("52043", "Manage", "55086", "Manage", "renumbering", 145_000, 130_000),
    ("52063", "Seneffe", "55085", "Seneffe", "renumbering", 143_000, 138_000),
    ("54007", "Moeskroen", "57096", "Moeskroen", "renumbering", 68_000, 162_000),
    ("54010", "Komen-Waasten", "57097", "Komen-Waasten", "renumbering", 55_000, 165_000),
    ("55010", "Edingen", "51067", "Edingen", "renumbering", 128_000, 153_000),
    ("55022", "La Louvière", "58001", "La Louvière", "renumbering", 135_000, 130_000),
    ("55023", "Lessen", "51069", "Lessen", "renumbering", 114_000, 155_000),
    ("55039", "Opzullik", "51068", "Opzullik", "renumbering", 120_000, 148_000),
    ("56011", "Binche", "58002", "Binche", "renumbering", 136_000, 122_000),
    ("56085", "Estinnes", "58003", "Estinnes", "renumbering", 130_000, 117_000),
    ("56087", "Morlanwelz", "58004", "Morlanwelz", "renumbering", 140_000, 125_000),
)

# old_nis, old name, new_nis, new name, approximate x, y of the old municipality
CHANGES_2025: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("11002", "Antwerpen", "11002", "Antwerpen", 153_000, 212_000),
    ("11007", "Borsbeek", "11002", "Antwerpen", 158_000, 209_000),
    ("23023", "Galmaarden", "23106", "Pajottegem", 122_000, 159_000),
    ("23024", "Gooik", "23106", "Pajottegem", 131_000, 164_000),
    ("23032", "Herne", "23106", "Pajottegem", 126_000, 157_000),
    ("37012", "Ruiselede", "37021", "Wingene", 82_000, 195_000),
    ("37018", "Wingene", "37021", "Wingene", 76_000, 192_000),
    ("37007", "Meulebeke", "37022", "Tielt", 77_000, 180_000),
    ("37015", "Tielt", "37022", "Tielt", 81_000, 187_000),
    ("44012", "De Pinte", "44086", "Nazareth-De Pinte", 104_000, 186_000),
    ("44048", "Nazareth", "44086", "Nazareth-De Pinte", 100_000, 183_000),
    ("44034", "Lochristi", "44087", "Lochristi", 112_000, 200_000),
    ("44073", "Wachtebeke", "44087", "Lochristi", 112_000, 208_000),
    ("46014", "Lokeren", "46029", "Lokeren", 123_000, 200_000),
    ("44045", "Moerbeke", "46029", "Lokeren", 118_000, 208_000),
    ("44040", "Melle", "44088", "Merelbeke-Melle", 111_000, 190_000),
    ("44043", "Merelbeke", "44088", "Merelbeke-Melle", 107_000, 187_000),
    ("46003", "Beveren", "46030", "Beveren-Kruibeke-Zwijndrecht", 140_000, 212_000),
    ("46013", "Kruibeke", "46030", "Beveren-Kruibeke-Zwijndrecht", 146_000, 205_000),
    ("11056", "Zwijndrecht", "46030", "Beveren-Kruibeke-Zwijndrecht", 148_000, 210_000),
    ("73006", "Bilzen", "73110", "Bilzen-Hoeselt", 232_000, 173_000),
    ("73032", "Hoeselt", "73110", "Bilzen-Hoeselt", 228_000, 169_000),
    ("73009", "Borgloon", "73111", "Tongeren-Borgloon", 218_000, 163_000),
    ("73083", "Tongeren", "73111", "Tongeren-Borgloon", 231_000, 163_000),
    ("71069", "Ham", "71071", "Tessenderlo-Ham", 208_000, 190_000),
    ("71057", "Tessenderlo", "71071", "Tessenderlo-Ham", 203_000, 187_000),
    ("71022", "Hasselt", "71072", "Hasselt", 220_000, 181_000),
    ("73040", "Kortessem", "71072", "Hasselt", 224_000, 173_000),
    ("82003", "Bastogne", "82039", "Bastogne", 257_000, 90_000),
    ("82005", "Bertogne", "82039", "Bastogne", 250_000, 96_000),
)

# Anchor municipalities with a realistic population on 1-1-2018 (rounded) and role.
# nis, name_nl, name_fr, x, y, population 2018, area km2, kind (capital / city / coast)
ANCHORS: tuple[tuple[str, str, str, float, float, int, float, str], ...] = (
    ("21001", "Anderlecht", "Anderlecht", 144_500, 168_700, 118_000, 17.7, "capital"),
    ("21002", "Oudergem", "Auderghem", 154_500, 166_700, 33_700, 9.0, "capital"),
    ("21003", "Sint-Agatha-Berchem", "Berchem-Sainte-Agathe", 143_900, 172_400, 24_700, 2.9, "capital"),
    ("21004", "Brussel", "Bruxelles", 149_500, 172_500, 176_500, 32.6, "capital"),
    ("21005", "Etterbeek", "Etterbeek", 151_900, 168_800, 47_400, 3.2, "capital"),
    ("21006", "Evere", "Evere", 153_200, 173_300, 41_100, 5.0, "capital"),
    ("21007", "Vorst", "Forest", 146_700, 166_300, 56_000, 6.3, "capital"),
    ("21008", "Ganshoren", "Ganshoren", 145_000, 173_900, 24_700, 2.5, "capital"),
    ("21009", "Elsene", "Ixelles", 150_500, 167_300, 86_400, 6.3, "capital"),
    ("21010", "Jette", "Jette", 146_400, 174_700, 52_000, 5.0, "capital"),
    ("21011", "Koekelberg", "Koekelberg", 146_500, 172_400, 21_800, 1.2, "capital"),
    ("21012", "Sint-Jans-Molenbeek", "Molenbeek-Saint-Jean", 146_300, 171_100, 96_600, 5.9, "capital"),
    ("21013", "Sint-Gillis", "Saint-Gilles", 148_400, 168_500, 50_000, 2.5, "capital"),
    ("21014", "Sint-Joost-ten-Node", "Saint-Josse-ten-Noode", 150_600, 171_200, 27_000, 1.1, "capital"),
    ("21015", "Schaarbeek", "Schaerbeek", 151_500, 172_500, 133_000, 8.0, "capital"),
    ("21016", "Ukkel", "Uccle", 147_800, 163_600, 82_300, 22.9, "capital"),
    ("21017", "Watermaal-Bosvoorde", "Watermael-Boitsfort", 153_000, 164_300, 24_900, 12.9, "capital"),
    ("21018", "Sint-Lambrechts-Woluwe", "Woluwe-Saint-Lambert", 154_800, 170_500, 56_600, 7.2, "capital"),
    ("21019", "Sint-Pieters-Woluwe", "Woluwe-Saint-Pierre", 156_000, 168_300, 41_200, 8.9, "capital"),
    ("11002", "Antwerpen", "Anvers", 153_000, 212_000, 523_000, 204.3, "city"),
    ("44021", "Gent", "Gand", 105_000, 193_500, 260_000, 156.2, "city"),
    ("52011", "Charleroi", "Charleroi", 155_000, 122_000, 201_600, 102.1, "city"),
    ("62063", "Luik", "Liège", 235_000, 148_000, 197_400, 69.4, "city"),
    ("31005", "Brugge", "Bruges", 70_000, 211_000, 118_200, 138.4, "city"),
    ("92094", "Namen", "Namur", 185_000, 128_000, 110_900, 175.7, "city"),
    ("24062", "Leuven", "Louvain", 173_000, 174_500, 101_400, 56.6, "city"),
    ("53053", "Bergen", "Mons", 120_000, 125_000, 95_300, 146.6, "city"),
    ("12025", "Mechelen", "Malines", 157_000, 190_000, 86_300, 65.2, "city"),
    ("41002", "Aalst", "Alost", 127_000, 180_000, 85_700, 78.1, "city"),
    ("34022", "Kortrijk", "Courtrai", 73_000, 170_000, 76_300, 80.0, "city"),
    ("46021", "Sint-Niklaas", "Saint-Nicolas", 133_000, 205_000, 76_900, 83.8, "city"),
    ("71022", "Hasselt", "Hasselt", 220_000, 181_000, 77_600, 102.7, "city"),
    ("55022", "La Louvière", "La Louvière", 135_000, 130_000, 80_600, 64.2, "city"),
    ("57081", "Doornik", "Tournai", 80_000, 145_000, 69_500, 213.8, "city"),
    ("38008", "De Panne", "La Panne", 22_500, 200_500, 11_000, 23.9, "coast"),
    ("38014", "Koksijde", "Coxyde", 29_500, 202_000, 22_000, 44.0, "coast"),
    ("38016", "Nieuwpoort", "Nieuport", 36_000, 205_500, 11_400, 32.2, "coast"),
    ("35011", "Middelkerke", "Middelkerke", 42_500, 208_500, 19_800, 75.6, "coast"),
    ("35013", "Oostende", "Ostende", 50_500, 213_500, 71_400, 37.7, "coast"),
    ("35002", "Bredene", "Bredene", 55_500, 216_000, 17_900, 13.1, "coast"),
    ("35029", "De Haan", "Le Coq", 60_500, 218_500, 12_700, 42.2, "coast"),
    ("31004", "Blankenberge", "Blankenberge", 66_000, 222_000, 19_900, 17.4, "coast"),
    ("31042", "Zuienkerke", "Zuienkerke", 64_000, 217_000, 2_700, 49.0, "coast"),
    ("31043", "Knokke-Heist", "Knokke-Heist", 78_000, 225_500, 33_200, 56.4, "coast"),
)

# Arrondissements as coded before 1-1-2019: code prefix, centre x, y (Lambert 72), radius km of the area
# the synthetic municipalities are scattered over, number of municipalities on 31-12-2018, and a
# typical density (inhabitants per km2) of its ordinary municipalities.
ARRONDISSEMENTS: tuple[tuple[str, float, float, float, int, float], ...] = (
    ("11", 155_000, 210_000, 14, 28, 900),
    ("12", 160_000, 192_000, 12, 13, 600),
    ("13", 195_000, 215_000, 22, 27, 330),
    ("21", 149_000, 170_000, 6, 19, 7_000),
    ("23", 147_000, 175_000, 18, 33, 520),
    ("24", 180_000, 172_000, 18, 30, 430),
    ("25", 160_000, 152_000, 15, 27, 370),
    ("31", 72_000, 208_000, 14, 10, 420),
    ("32", 40_000, 193_000, 10, 5, 140),
    ("33", 38_000, 170_000, 12, 8, 190),
    ("34", 73_000, 170_000, 11, 13, 720),
    ("35", 52_000, 210_000, 7, 7, 520),
    ("36", 62_000, 185_000, 10, 8, 550),
    ("37", 80_000, 188_000, 9, 10, 300),
    ("38", 30_000, 198_000, 8, 5, 230),
    ("41", 125_000, 178_000, 10, 10, 630),
    ("42", 133_000, 190_000, 9, 6, 600),
    ("43", 92_000, 210_000, 9, 10, 250),
    ("44", 103_000, 192_000, 13, 25, 520),
    ("45", 98_000, 170_000, 10, 10, 280),
    ("46", 130_000, 205_000, 10, 7, 580),
    ("51", 100_000, 148_000, 12, 8, 160),
    ("52", 155_000, 122_000, 13, 14, 700),
    ("53", 118_000, 125_000, 13, 13, 430),
    ("54", 62_000, 163_000, 7, 2, 700),
    ("55", 135_000, 140_000, 12, 10, 290),
    ("56", 145_000, 108_000, 16, 14, 160),
    ("57", 80_000, 145_000, 14, 10, 250),
    ("61", 205_000, 133_000, 14, 17, 150),
    ("62", 235_000, 150_000, 14, 24, 830),
    ("63", 262_000, 138_000, 20, 25, 140),
    ("64", 205_000, 157_000, 11, 14, 210),
    ("71", 215_000, 185_000, 14, 18, 430),
    ("72", 238_000, 205_000, 14, 14, 330),
    ("73", 228_000, 163_000, 12, 13, 310),
    ("81", 255_000, 45_000, 10, 5, 180),
    ("82", 250_000, 90_000, 16, 8, 50),
    ("83", 215_000, 102_000, 14, 9, 60),
    ("84", 218_000, 65_000, 18, 12, 45),
    ("85", 232_000, 30_000, 12, 10, 80),
    ("91", 185_000, 100_000, 18, 15, 70),
    ("92", 183_000, 128_000, 13, 16, 320),
    ("93", 160_000, 92_000, 14, 7, 60),
)

PROVINCE_OF_ARRONDISSEMENT: dict[str, str | None] = {
    **{a: "10000" for a in ("11", "12", "13")},
    "21": None,
    "23": "20001",
    "24": "20001",
    "25": "20002",
    **{a: "30000" for a in ("31", "32", "33", "34", "35", "36", "37", "38")},
    **{a: "40000" for a in ("41", "42", "43", "44", "45", "46")},
    **{a: "50000" for a in ("51", "52", "53", "54", "55", "56", "57", "58")},
    **{a: "60000" for a in ("61", "62", "63", "64")},
    **{a: "70000" for a in ("71", "72", "73")},
    **{a: "80000" for a in ("81", "82", "83", "84", "85")},
    **{a: "90000" for a in ("91", "92", "93")},
}


def region_of_arrondissement(arr: str) -> str:
    if arr == "21":
        return "04000"
    if arr in ("25",) or arr[0] in "5689":
        return "03000"
    return "02000"
