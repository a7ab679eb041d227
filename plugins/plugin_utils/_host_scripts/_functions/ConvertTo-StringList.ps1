# The items of a multi-valued Exchange property (MitigationsBlocked,
# MitigationsApplied) as an array of non-empty strings. Such a value may
# arrive as a list, a single value, or $null when empty: HealthChecker's real
# 2016/2019 exports hold MitigationsBlocked as Nil (CSS-Exchange, Diagnostics/
# HealthChecker/Tests/DataCollection/E19/Exchange/GetExchangeServer.xml), and
# @($null) would otherwise answer one null item.
# The leading comma keeps an empty or one-item array an array for the caller.
function ConvertTo-StringList {
    param($Value)
    $items = @()
    foreach ($item in @($Value)) {
        if ($null -ne $item -and [string]$item -ne '') {
            $items += [string]$item
        }
    }
    , $items
}
