# Uses: ConvertTo-NullableBoolean, ConvertTo-StringList, Get-PropertyValue
# The EEMS settings of one server and its organisation, as the controller
# judges them. The EEMS properties exist only from the September 2021 CUs on
# (absent on 2013 and older 2016/2019 builds), so each is null where the build
# lacks it; MitigationsEnabled marks a build with EEMS, and the two lists come
# with it and are Nil when empty (CSS-Exchange HealthChecker exports; see
# tests/lab/data/exchange_value_forms.yml).
function Get-EemsSetting {
    param($ExchangeServer, $Organization)
    $serverMitigations = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $ExchangeServer -Name 'MitigationsEnabled')
    $blocked = $null
    $applied = $null
    if ($null -ne $serverMitigations) {
        $blocked = ConvertTo-StringList -Value (Get-PropertyValue -InputObject $ExchangeServer -Name 'MitigationsBlocked')
        $applied = ConvertTo-StringList -Value (Get-PropertyValue -InputObject $ExchangeServer -Name 'MitigationsApplied')
    }
    [ordered]@{
        organization_name = [string](Get-PropertyValue -InputObject $Organization -Name 'Name')
        organization_mitigations_enabled = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $Organization -Name 'MitigationsEnabled')
        server_mitigations_enabled = $serverMitigations
        mitigations_blocked = $blocked
        mitigations_applied = $applied
        data_collection_enabled = ConvertTo-NullableBoolean -Value (Get-PropertyValue -InputObject $ExchangeServer -Name 'DataCollectionEnabled')
        internet_web_proxy = [string](Get-PropertyValue -InputObject $ExchangeServer -Name 'InternetWebProxy')
    }
}
