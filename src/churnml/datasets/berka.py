"""The Berka bank (PKDD'99 Financial Data Set) mapped onto churnml's data contract.

Anonymised data of a real Czech retail bank, released for the PKDD'99 Discovery
Challenge (P. Berka, *Guide to the Financial Data Set*). Only the first 15 months of its
transactions (1993-01-01 to 1994-03-30) are available; they are complete for those dates.
:func:`load_berka` reads the ``.asc`` files and that slice and returns the contract's
tables. Every decision a bank analyst would want to check is in the tables below.

customers: one row per client who owns an account (disp.asc type OWNER)

============  ==========================================================================
contract      Berka source and rule
============  ==========================================================================
customer_id   client.asc ``client_id`` (int64). Each OWNER owns exactly one account.
join_date     account.asc ``date`` of the account the client owns.
birth_year    19YY from ``birth_number`` (YYMMDD).
gender        ``female`` when the month in ``birth_number`` is above 50 (women's months
              are written +50), else ``male``.
region        district.asc ``A2`` (district name) of the client's home district
              (client.asc ``district_id``). The branch district in account.asc agrees
              for 91% of owners and is not used.
income_band   ``low`` / ``mid`` / ``high``: the tertile of the home district's average
              salary (``A11``) among the 77 districts.
(left out)    DISPONENT clients (allowed to use someone else's account, owning none) are
              not customers: they hold no product of their own.
============  ==========================================================================

accounts: one row per product held

============  ==========================================================================
product       Berka source and rule
============  ==========================================================================
current       every account.asc account; ``account_id`` kept as is, opened on its
              ``date``. Berka records no closure of any current account, so none is
              closed, and no product anywhere has close_reason ``bank``.
loan          every loan.asc loan on the account's owner; ``account_id`` =
              10,000,000 + ``loan_id``; opened on the loan ``date``; ``term_months`` =
              ``duration``. Status A (finished, paid) and B (finished, not paid) close
              at loan date + duration with close_reason ``maturity``: the contract ran
              its term. B's default is a credit-risk fact the contract has no column
              for; it is neither the customer leaving nor the bank ending the
              relationship (the current account stays open), so it is not ``bank``.
              Status C and D (running) stay open.
credit_card   every card.asc card on the owner of the card's account (all cards are
              issued to OWNER dispositions); ``account_id`` = 20,000,000 + ``card_id``;
              opened on ``issued``. The card type (classic / junior / gold) is dropped.
============  ==========================================================================

balances: month-end snapshots, 1993-01 to 1994-03 only

- An account's balance on a day is the running ``balance`` after its last transaction of
  that day. The file has no time of day and ``trans_id`` is not chronological, so the last
  transaction is found from the balance chain: the one no other posting of the same day
  continues (balance before = this balance, within 0.15 crowns because interest postings
  are rounded). A day whose postings cancel out keeps the previous balance.
- The month-end snapshot is the balance after the month's last transaction day, carried
  forward into months without transactions, from the opening month up to the slice's
  last month. The March 1994 snapshot misses the 31st's postings (the slice stops on the
  30th). Customers whose accounts opened after the slice have no balances.
- Overdrafts: the running balance is negative on 88 transaction rows. The contract's
  balances are assets (>= 0), so negative month-end account snapshots (15) are floored
  at 0, with one ``UserWarning`` counting both; the overdraft itself is not kept.
- Snapshots are summed per customer (only current accounts carry balances: loans and
  cards are liabilities).

transactions: the slice, customer activity only

============  ==========================================================================
contract      Berka source and rule
============  ==========================================================================
customer_id   owner of the transaction's account.
ts            ``date`` (a calendar day; the file has no time of day).
amount        ``amount``, + for type PRIJEM (credit), - for VYDAJ and VYBER (debit).
              Zero amounts, if any, are dropped with a warning.
(dropped)     k_symbol UROK (interest), SLUZBY (fees) and SANKC. UROK (penalty
              interest): the bank posts them to accounts, they are not customer activity.
channel       from ``operation``: VKLAD (cash deposit) and VYBER (cash withdrawal) ->
              ``branch``; VYBER KARTOU (card withdrawal) -> ``atm``; PREVOD Z UCTU /
              PREVOD NA UCET (transfer in / out) -> ``online``, the contract's nearest
              word for a remote transfer (in 1993 likely a paper or standing order);
              anything else -> ``other``.
counterparty  first by purpose (k_symbol): DUCHOD (pension) -> ``salary``, as the
              regular income it is; SIPO (household bills), POJISTNE (insurance) and
              LEASING -> ``merchant``; UVER (loan repayment) -> ``internal``, as it pays
              the customer's loan here (all match a loan.asc loan). Then a transfer with
              a ``bank`` code -> ``other_bank``; then cash operations (VKLAD, VYBER,
              VYBER KARTOU) -> ``cash``; anything else -> ``other``.
============  ==========================================================================

complaints: Berka has none, so the table is absent (``None``).

Time coverage: balances and transactions stop at 1994-03 while accounts open until 1997
and loans and cards run to 1998, so cutoffs plus horizons should end by 1994-03-31.

Not used: order.asc (standing orders), the statement frequency of accounts and the other
district demographics. Rows of accounts without an OWNER are dropped with a warning that
counts them (the real data has none).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.tables import Tables, load_tables
from churnml.timeline import as_of

__all__ = ["load_berka"]

ACCOUNT_FILE = "account.asc"
CLIENT_FILE = "client.asc"
DISPOSITION_FILE = "disp.asc"
LOAN_FILE = "loan.asc"
CARD_FILE = "card.asc"
DISTRICT_FILE = "district.asc"
TRANSACTION_FILE = "trans_1993-01-01_to_1994-03-30.csv"
REQUIRED_FILES = (
    ACCOUNT_FILE,
    CLIENT_FILE,
    DISPOSITION_FILE,
    LOAN_FILE,
    CARD_FILE,
    DISTRICT_FILE,
    TRANSACTION_FILE,
)

OWNER = "OWNER"
# Loans and cards become accounts of their own; offsets keep their ids apart from
# Berka's account ids (at most 5 digits).
LOAN_ID_OFFSET = 10_000_000
CARD_ID_OFFSET = 20_000_000
FINISHED_LOAN_STATUSES = ("A", "B")
CURRENT, LOAN, CREDIT_CARD = "current", "loan", "credit_card"
MATURITY = "maturity"

# Every Berka date and birth year is in the 1900s; YY alone is ambiguous to parsers.
CENTURY = 1900
FEMALE_MONTH_OFFSET = 50
FEMALE, MALE = "female", "male"
INCOME_BANDS = ("low", "mid", "high")
DISTRICT_ID, DISTRICT_NAME, DISTRICT_AVERAGE_SALARY = "A1", "A2", "A11"

CREDIT = "PRIJEM"
BANK_POSTINGS = ("UROK", "SLUZBY", "SANKC. UROK")
CASH_OPERATIONS = ("VKLAD", "VYBER", "VYBER KARTOU")
CHANNEL_BY_OPERATION = {
    "VKLAD": "branch",
    "VYBER": "branch",
    "VYBER KARTOU": "atm",
    "PREVOD Z UCTU": "online",
    "PREVOD NA UCET": "online",
}
COUNTERPARTY_BY_PURPOSE = {
    "DUCHOD": "salary",
    "SIPO": "merchant",
    "POJISTNE": "merchant",
    "LEASING": "merchant",
    "UVER": "internal",
}
OTHER_BANK, CASH, OTHER = "other_bank", "cash", "other"
# The month end of the transaction slice's last month: later activity is unknown.
SLICE_END = pd.Timestamp("1994-03-31")
# Interest postings are rounded to 0.1 crowns against the running balance.
BALANCE_TOLERANCE = 0.15


def load_berka(folder: str | Path, *, known_at: pd.Timestamp | str | None = SLICE_END) -> Tables:
    """Load the Berka bank (PKDD'99) as the contract's tables.

    Parameters
    ----------
    folder : str or Path
        Folder holding the Berka ``.asc`` files and
        ``trans_1993-01-01_to_1994-03-30.csv``.
    known_at : date-like or None
        Return the bank as known on this day (:func:`churnml.timeline.as_of`). The
        default, 1994-03-31, ends with the transaction slice: accounts, loans and cards
        dated up to 1998 would otherwise stretch follow-up years past the last balance.
        ``None`` keeps every row of the files.

    Returns
    -------
    Tables
        ``customers``, ``accounts``, ``balances`` and ``transactions``, validated by
        :func:`churnml.load_tables`; ``complaints`` is ``None``. The module docstring
        documents every mapping decision.

    Raises
    ------
    FileNotFoundError
        When the folder or one of the files it needs is absent; the message names them.

    Warns
    -----
    UserWarning
        Once, counting the transaction rows with a negative running balance (overdrafts),
        whose month-end snapshots are floored at 0. Also when rows of accounts without an
        OWNER or transactions of amount 0 are dropped (the real data has none).

    Examples
    --------
    >>> from churnml.datasets.berka import load_berka
    >>> tables = load_berka("../shared/data/berka")  # doctest: +SKIP
    >>> load_berka("no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: Berka data folder not found: no/such/folder ...
    """
    paths = _locate_files(Path(folder))
    disp = _read_asc(paths[DISPOSITION_FILE])
    owner_of = disp.loc[disp["type"] == OWNER].set_index("account_id")["client_id"]
    accounts, n_unowned = _accounts(disp, paths, owner_of)
    current = accounts.loc[accounts["product_type"] == CURRENT]

    raw_trans = pd.read_csv(paths[TRANSACTION_FILE], dtype={"k_symbol": str, "bank": str})
    raw_trans["date"] = _parse_yymmdd(raw_trans["date"])
    trans, n_unowned_trans = _with_owner(raw_trans, owner_of)
    balances, n_floored = _balances(trans, current)
    transactions, n_zero = _transactions(trans)
    _warn(
        n_overdraft=int((trans["balance"] < 0).sum()),
        n_floored=n_floored,
        n_unowned=n_unowned + n_unowned_trans,
        n_zero=n_zero,
    )
    customers = _customers(_read_asc(paths[CLIENT_FILE]), _read_asc(paths[DISTRICT_FILE]), current)
    tables = load_tables(
        {
            "customers": customers,
            "accounts": accounts,
            "balances": balances,
            "transactions": transactions,
        }
    )
    return tables if known_at is None else as_of(tables, known_at)


def _warn(*, n_overdraft: int, n_floored: int, n_unowned: int, n_zero: int) -> None:
    # stacklevel=3 points at the caller of load_berka.
    warnings.warn(
        f"Berka: {n_overdraft} transaction rows have a negative running balance "
        f"(overdrafts); the contract's balances are assets >= 0, so the {n_floored} "
        "negative month-end account balances are floored at 0",
        UserWarning,
        stacklevel=3,
    )
    if n_unowned:
        warnings.warn(
            f"Berka: {n_unowned} account, loan, card or transaction rows belong to accounts "
            "without an OWNER client and are dropped",
            UserWarning,
            stacklevel=3,
        )
    if n_zero:
        warnings.warn(
            f"Berka: {n_zero} transactions of amount 0 are dropped (the contract's amounts "
            "are never 0)",
            UserWarning,
            stacklevel=3,
        )


def _locate_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Berka data folder not found: {folder} (expected the PKDD'99 files "
            f"{', '.join(REQUIRED_FILES)})"
        )
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Berka data folder {folder} lacks {', '.join(missing)}; "
            "download the PKDD'99 Financial Data Set files into it"
        )
    return {name: folder / name for name in REQUIRED_FILES}


def _read_asc(path: Path) -> pd.DataFrame:
    # Codes such as birth_number keep their leading zeros only when read as text.
    return pd.read_csv(path, sep=";", quotechar='"', dtype={"birth_number": str})


def _parse_yymmdd(values: pd.Series) -> pd.Series:
    # card.asc appends " 00:00:00" to its YYMMDD dates.
    text = values.astype(str).str.strip().str[:6].str.zfill(6)
    return pd.to_datetime(str(CENTURY // 100) + text, format="%Y%m%d")


def _with_owner(frame: pd.DataFrame, owner_of: pd.Series) -> tuple[pd.DataFrame, int]:
    customer_id = frame["account_id"].map(owner_of)
    owned = customer_id.notna()
    out = frame.loc[owned].assign(customer_id=customer_id[owned].astype("int64"))
    return out, int((~owned).sum())


def _accounts(
    disp: pd.DataFrame, paths: dict[str, Path], owner_of: pd.Series
) -> tuple[pd.DataFrame, int]:
    # Every product keeps the Berka account it hangs on, whose OWNER is the customer.
    current = _read_asc(paths[ACCOUNT_FILE])
    current["date"] = _parse_yymmdd(current["date"])
    loans = _read_asc(paths[LOAN_FILE])
    loans["date"] = _parse_yymmdd(loans["date"])
    finished = loans["status"].isin(FINISHED_LOAN_STATUSES)
    loans = loans.assign(
        product_id=LOAN_ID_OFFSET + loans["loan_id"],
        product_type=LOAN,
        open_date=loans["date"],
        close_date=_add_months(loans["date"], loans["duration"]).where(finished),
        close_reason=pd.Series(MATURITY, index=loans.index).where(finished),
        term_months=loans["duration"],
    )
    cards = _read_asc(paths[CARD_FILE]).merge(
        disp[["disp_id", "account_id"]], on="disp_id", how="left"
    )
    cards = cards.assign(
        product_id=CARD_ID_OFFSET + cards["card_id"],
        product_type=CREDIT_CARD,
        open_date=_parse_yymmdd(cards["issued"]),
    )
    current = current.assign(
        product_id=current["account_id"], product_type=CURRENT, open_date=current["date"]
    )
    held = pd.concat([current, loans, cards], ignore_index=True)
    owned, n_unowned = _with_owner(held, owner_of)
    accounts = owned.drop(columns="account_id").rename(columns={"product_id": "account_id"})
    columns = ["account_id", "customer_id", "product_type", "open_date", "close_date"]
    columns += ["close_reason", "term_months"]
    return accounts[columns].sort_values("account_id", ignore_index=True), n_unowned


def _add_months(dates: pd.Series, months: pd.Series) -> pd.Series:
    # Same day n months later, clipped to the month's last day (29 Feb + 12 -> 28 Feb).
    first_of_month = (dates.dt.to_period("M") + months.to_numpy()).dt.to_timestamp()
    day = np.minimum(dates.dt.day, first_of_month.dt.days_in_month)
    return first_of_month + pd.to_timedelta(day - 1, unit="D")


def _customers(
    clients: pd.DataFrame, districts: pd.DataFrame, current: pd.DataFrame
) -> pd.DataFrame:
    joined = current.groupby("customer_id")["open_date"].min().rename("join_date")
    owners = clients.merge(joined, left_on="client_id", right_index=True, how="inner")
    birth = owners["birth_number"].str.zfill(6)
    month = birth.str[2:4].astype(int)
    bands = pd.qcut(districts[DISTRICT_AVERAGE_SALARY], len(INCOME_BANDS), labels=INCOME_BANDS)
    band_of = pd.Series(bands.astype(str).to_numpy(), index=districts[DISTRICT_ID])
    name_of = districts.set_index(DISTRICT_ID)[DISTRICT_NAME]
    customers = pd.DataFrame(
        {
            "customer_id": owners["client_id"].astype("int64"),
            "join_date": owners["join_date"],
            "birth_year": CENTURY + birth.str[:2].astype(int),
            "gender": np.where(month > FEMALE_MONTH_OFFSET, FEMALE, MALE),
            "income_band": owners["district_id"].map(band_of),
            "region": owners["district_id"].map(name_of),
        }
    )
    return customers.sort_values("customer_id", ignore_index=True)


def _signed_amount(trans: pd.DataFrame) -> pd.Series:
    return trans["amount"].where(trans["type"] == CREDIT, -trans["amount"])


def _daily_closing(trans: pd.DataFrame) -> pd.DataFrame:
    rows = trans[["trans_id", "account_id", "date", "balance"]].assign(
        before=trans["balance"] - _signed_amount(trans)
    )
    pairs = rows.merge(
        rows[["trans_id", "account_id", "date", "before"]],
        on=["account_id", "date"],
        suffixes=("", "_next"),
    )
    continues = (pairs["trans_id"] != pairs["trans_id_next"]) & (
        (pairs["before_next"] - pairs["balance"]).abs() <= BALANCE_TOLERANCE
    )
    continued = pairs.loc[continues, "trans_id"]
    # A day whose postings cancel out has no last posting: it keeps the previous balance,
    # which the forward fill of month-end snapshots supplies.
    last = rows.loc[~rows["trans_id"].isin(continued)]
    last = last.sort_values(["account_id", "date", "trans_id"])
    return last.drop_duplicates(["account_id", "date"], keep="last")


def _balances(trans: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    # Months are numbered (months since 1970-01, numpy's datetime64[M]) to stay vectorised.
    closing = _daily_closing(trans)
    closing["month"] = _month_ordinal(closing["date"])
    month_end = closing.drop_duplicates(["account_id", "month"], keep="last")
    slice_months = _month_ordinal(trans["date"])
    first_month, last_month = slice_months.min(), slice_months.max()

    opened = current.loc[current["open_date"] <= trans["date"].max()]
    start = np.maximum(_month_ordinal(opened["open_date"]), first_month)
    n_months = last_month - start + 1
    grid = pd.DataFrame(
        {
            "account_id": np.repeat(opened["account_id"].to_numpy(), n_months),
            "customer_id": np.repeat(opened["customer_id"].to_numpy(), n_months),
            "month": np.repeat(start, n_months),
        }
    )
    grid["month"] += grid.groupby("account_id").cumcount().to_numpy()
    grid = grid.merge(month_end[["account_id", "month", "balance"]], how="left")
    # Without a transaction in a month the balance is unchanged: carry it forward.
    grid["balance"] = grid.groupby("account_id")["balance"].ffill()
    grid = grid.dropna(subset=["balance"])
    n_floored = int((grid["balance"] < 0).sum())
    grid["balance"] = grid["balance"].clip(lower=0.0)
    next_month = (grid["month"].to_numpy() + 1).astype("datetime64[M]")
    grid["date"] = next_month.astype("datetime64[D]") - np.timedelta64(1, "D")
    balances = grid.groupby(["customer_id", "date"])["balance"].sum().reset_index()
    return balances.sort_values(["customer_id", "date"], ignore_index=True), n_floored


def _month_ordinal(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype("int64")


def _transactions(trans: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    purpose = trans["k_symbol"].str.strip()
    activity = trans.loc[~purpose.isin(BANK_POSTINGS)].assign(
        purpose=purpose, amount=_signed_amount(trans)
    )
    zero = activity["amount"] == 0
    activity = activity.loc[~zero]
    has_bank = activity["bank"].fillna("").str.strip() != ""
    counterparty = np.select(
        [
            activity["purpose"].isin(COUNTERPARTY_BY_PURPOSE),
            has_bank,
            activity["operation"].isin(CASH_OPERATIONS),
        ],
        [activity["purpose"].map(COUNTERPARTY_BY_PURPOSE), OTHER_BANK, CASH],
        default=OTHER,
    )
    activity = activity.assign(
        ts=activity["date"],
        channel=activity["operation"].map(CHANNEL_BY_OPERATION).fillna(OTHER),
        counterparty=counterparty,
    )
    activity = activity.sort_values(["customer_id", "ts", "trans_id"], ignore_index=True)
    columns = ["customer_id", "ts", "amount", "channel", "counterparty"]
    return activity[columns], int(zero.sum())
