# True on an Edge Transport server. Exchange Setup writes this key for the
# Edge role only; CSS-Exchange tells Edge apart by the same key
# (Shared/Confirm-ExchangeShell.ps1, and HealthChecker's
# DataCollection/OrganizationInformation/Invoke-JobOrganizationInformation.ps1).
# A registry read needs no Exchange cmdlets, so it works before any session.
function Test-EdgeTransportRole {
    Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\EdgeTransportRole'
}
