# Reads the IIS URL Rewrite configuration that Exchange mitigations live in:
# inbound rules, outbound rules and their preconditions on Default Web Site
# and every application under it, in file order and including the <remove>
# and <clear/> entries that cancel inherited rules (the merged view IIS
# offers hides those). Each entry says its source: applicationHost.config's
# server-level section (apphost-root, site only), the path's <location> there
# (apphost; both read first, as IIS merges them) or its web.config.
# Also the URL Rewrite module's state, the ExSetup build, the SHA256 of
# applicationHost.config and the rewrite backups kept on this server.
# Changes nothing.
# The files are read as XML, so a rule IIS would refuse is still reported.
# An Edge Transport server has no IIS (CSS-Exchange HealthChecker: "No IIS
# information to review on an Edge Server", Analyzer/Invoke-AnalyzerIISInformation.ps1),
# so no site holds mitigations: it answers edge_transport true, no locations
# and a null apphost, without touching IIS.
# Uses: Get-ExSetupVersion, Get-PropertyValue, Get-UrlRewriteState, Test-EdgeTransportRole
param($HostArgs)

$siteName = 'Default Web Site'
if (Test-EdgeTransportRole) {
    return @{ changed = $false; data = [ordered]@{
            computer_name = $env:COMPUTERNAME
            edge_transport = $true
            site = $siteName
            applications = @()
            locations = @()
            apphost = $null
            url_rewrite = Get-UrlRewriteState
            exsetup_version = (Get-ExSetupVersion).exsetup_version
            backups = @()
        }
    }
}
$backupRoot = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\onprem.exchange\rewrite-backups'

function ConvertFrom-ConditionList {
    param($Node)
    if ($null -eq $Node) {
        return
    }
    foreach ($add in $Node.SelectNodes('add')) {
        [ordered]@{
            input = [string]$add.GetAttribute('input')
            pattern = [string]$add.GetAttribute('pattern')
            ignore_case = ($add.GetAttribute('ignoreCase') -ne 'false')
            negate = ($add.GetAttribute('negate') -eq 'true')
        }
    }
}

function Get-AttributeOrDefault {
    param($Node, [string]$Name, [string]$Default)
    if ($null -ne $Node -and $Node.HasAttribute($Name)) {
        return [string]$Node.GetAttribute($Name)
    }
    $Default
}

function ConvertFrom-RuleElement {
    param($Node, [string]$Direction, [string]$Source)
    $match = $Node.SelectSingleNode('match')
    $conditions = $Node.SelectSingleNode('conditions')
    $action = $Node.SelectSingleNode('action')
    $matchData = [ordered]@{ ignore_case = $true; negate = $false }
    if ($null -ne $match) {
        if ($Direction -eq 'outbound') {
            $matchData.server_variable = [string]$match.GetAttribute('serverVariable')
            $matchData.pattern = [string]$match.GetAttribute('pattern')
        }
        else {
            $matchData.url = [string]$match.GetAttribute('url')
        }
        $matchData.ignore_case = ($match.GetAttribute('ignoreCase') -ne 'false')
        $matchData.negate = ($match.GetAttribute('negate') -eq 'true')
    }
    [ordered]@{
        entry = 'rule'
        source = $Source
        name = [string]$Node.GetAttribute('name')
        enabled = ($Node.GetAttribute('enabled') -ne 'false')
        pattern_syntax = Get-AttributeOrDefault -Node $Node -Name 'patternSyntax' -Default 'ECMAScript'
        stop_processing = ($Node.GetAttribute('stopProcessing') -eq 'true')
        match = $matchData
        logical_grouping = Get-AttributeOrDefault -Node $conditions -Name 'logicalGrouping' -Default 'MatchAll'
        conditions = @(ConvertFrom-ConditionList -Node $conditions)
        action = [ordered]@{
            type = Get-AttributeOrDefault -Node $action -Name 'type' -Default 'None'
            value = Get-AttributeOrDefault -Node $action -Name 'value' -Default ''
        }
        precondition = [string]$Node.GetAttribute('preCondition')
    }
}

function ConvertFrom-PreconditionElement {
    param($Node, [string]$Source)
    [ordered]@{
        entry = 'precondition'
        source = $Source
        name = [string]$Node.GetAttribute('name')
        logical_grouping = Get-AttributeOrDefault -Node $Node -Name 'logicalGrouping' -Default 'MatchAll'
        pattern_syntax = Get-AttributeOrDefault -Node $Node -Name 'patternSyntax' -Default 'ECMAScript'
        conditions = @(ConvertFrom-ConditionList -Node $Node)
    }
}

function ConvertFrom-Collection {
    param($Node, [string]$Kind, [string]$Source)
    if ($null -eq $Node) {
        return
    }
    foreach ($child in $Node.ChildNodes) {
        if ($child.NodeType -ne [System.Xml.XmlNodeType]::Element) {
            continue
        }
        if ($child.LocalName -eq 'clear') {
            [ordered]@{ entry = 'clear'; source = $Source }
        }
        elseif ($child.LocalName -eq 'remove') {
            [ordered]@{ entry = 'remove'; source = $Source; name = [string]$child.GetAttribute('name') }
        }
        elseif ($Kind -eq 'preconditions' -and $child.LocalName -eq 'preCondition') {
            ConvertFrom-PreconditionElement -Node $child -Source $Source
        }
        elseif ($Kind -ne 'preconditions' -and $child.LocalName -eq 'rule') {
            ConvertFrom-RuleElement -Node $child -Direction $Kind -Source $Source
        }
    }
}

function Read-RewriteSection {
    param($Parent, [string]$Source, $Into)
    if ($null -eq $Parent) {
        return
    }
    $rewrite = $Parent.SelectSingleNode('system.webServer/rewrite')
    if ($null -eq $rewrite) {
        return
    }
    $Into.inbound += @(ConvertFrom-Collection -Node $rewrite.SelectSingleNode('rules') -Kind 'inbound' -Source $Source)
    $Into.outbound += @(ConvertFrom-Collection -Node $rewrite.SelectSingleNode('outboundRules') -Kind 'outbound' -Source $Source)
    $Into.preconditions += @(ConvertFrom-Collection -Node $rewrite.SelectSingleNode('outboundRules/preConditions') -Kind 'preconditions' -Source $Source)
}

function Read-XmlFile {
    param([string]$Path)
    $document = New-Object -TypeName System.Xml.XmlDocument
    $document.PreserveWhitespace = $true
    $document.Load($Path)
    $document
}

Import-Module -Name WebAdministration -ErrorAction Stop
$site = Get-Website -Name $siteName
if ($null -eq $site) {
    throw ('IIS has no site named {0} on this server.' -f $siteName)
}
$places = @([ordered]@{ path = ''; physical = [Environment]::ExpandEnvironmentVariables([string]$site.PhysicalPath) })
foreach ($application in Get-WebApplication -Site $siteName) {
    $places += [ordered]@{ path = [string]$application.Path; physical = [Environment]::ExpandEnvironmentVariables([string]$application.PhysicalPath) }
}

# <location path="Default Web Site/owa"> entries in applicationHost.config
# apply before that folder's own web.config.
$appHostPath = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\applicationHost.config'
$appHost = Read-XmlFile -Path $appHostPath
$appHostHash = (Get-FileHash -LiteralPath $appHostPath -Algorithm SHA256).Hash.ToLowerInvariant()
$appHostLocations = @($appHost.DocumentElement.SelectNodes('location'))

$locations = @()
foreach ($place in $places) {
    $location = [ordered]@{ path = $place.path; file = Join-Path -Path $place.physical -ChildPath 'web.config'; sha256 = $null; inbound = @(); outbound = @(); preconditions = @() }
    $wanted = ($siteName + $place.path).TrimEnd('/')
    if (-not $place.path) {
        # applicationHost.config's own section, outside any <location>:
        # every site inherits it first.
        Read-RewriteSection -Parent $appHost.DocumentElement -Source 'apphost-root' -Into $location
    }
    foreach ($node in $appHostLocations) {
        if (([string]$node.GetAttribute('path')).TrimEnd('/') -eq $wanted) {
            Read-RewriteSection -Parent $node -Source 'apphost' -Into $location
        }
    }
    if (Test-Path -LiteralPath $location.file) {
        $location.sha256 = (Get-FileHash -LiteralPath $location.file -Algorithm SHA256).Hash.ToLowerInvariant()
        $document = Read-XmlFile -Path $location.file
        Read-RewriteSection -Parent $document.DocumentElement -Source 'web.config' -Into $location
    }
    $locations += $location
}

# Locations that exist only in applicationHost.config (a virtual directory
# that is not an application, such as Microsoft-Server-ActiveSync/Proxy;
# Get-WebApplication does not return them, which is how Health Checker
# missed their rules until CSS-Exchange PR 2548). Their rewrite entries are
# read too; they have no web.config of their own here (file is $null).
$known = @($locations | ForEach-Object { ($siteName + $_.path).TrimEnd('/') })
foreach ($node in $appHostLocations) {
    $nodePath = ([string]$node.GetAttribute('path')).TrimEnd('/')
    if (-not $nodePath.StartsWith($siteName + '/', [System.StringComparison]::OrdinalIgnoreCase) -or $known -contains $nodePath) {
        continue
    }
    $location = [ordered]@{ path = $nodePath.Substring($siteName.Length); file = $null; sha256 = $null; inbound = @(); outbound = @(); preconditions = @() }
    foreach ($same in $appHostLocations) {
        if (([string]$same.GetAttribute('path')).TrimEnd('/') -eq $nodePath) {
            Read-RewriteSection -Parent $same -Source 'apphost' -Into $location
        }
    }
    $known += $nodePath
    if (($location.inbound.Count + $location.outbound.Count + $location.preconditions.Count) -gt 0) {
        $locations += $location
    }
}

$backups = @()
if (Test-Path -LiteralPath $backupRoot) {
    foreach ($folder in Get-ChildItem -LiteralPath $backupRoot -Directory | Sort-Object -Property Name) {
        $manifestPath = Join-Path -Path $folder.FullName -ChildPath 'backup.json'
        if (Test-Path -LiteralPath $manifestPath) {
            $manifest = Get-Content -LiteralPath $manifestPath -Raw | ConvertFrom-Json
            # Whether restoring this backup would change nothing, so check
            # mode can predict a restore from this read alone.
            $unchanged = $true
            # applicationHost.config changed by something else since this
            # backup's own change: Restore-RewriteConfiguration refuses it.
            $blockedBy = $null
            $records = @(Get-PropertyValue -InputObject $manifest -Name 'files' -Default @())
            foreach ($record in $records) {
                $recordFile = [string](Get-PropertyValue -InputObject $record -Name 'file' -Default '')
                $existed = [bool](Get-PropertyValue -InputObject $record -Name 'existed' -Default $false)
                $currentHash = $null
                if ($recordFile -eq $appHostPath) {
                    $currentHash = $appHostHash
                    $afterHash = [string](Get-PropertyValue -InputObject $record -Name 'after_sha256' -Default '')
                    if ($currentHash -ne [string](Get-PropertyValue -InputObject $record -Name 'sha256' -Default '') -and $currentHash -ne $afterHash) {
                        $blockedBy = $appHostPath
                    }
                }
                else {
                    $current = $locations | Where-Object { $_.file -eq $recordFile } | Select-Object -First 1
                    if ($null -ne $current) {
                        $currentHash = $current.sha256
                    }
                }
                if ($existed -and $currentHash -ne [string](Get-PropertyValue -InputObject $record -Name 'sha256' -Default '')) {
                    $unchanged = $false
                }
                elseif (-not $existed -and $null -ne $currentHash) {
                    $unchanged = $false
                }
            }
            $backups += [ordered]@{
                id = [string](Get-PropertyValue -InputObject $manifest -Name 'id' -Default $folder.Name)
                time = [string](Get-PropertyValue -InputObject $manifest -Name 'time' -Default '')
                reason = [string](Get-PropertyValue -InputObject $manifest -Name 'reason' -Default '')
                files = $records.Count
                matches_current = $unchanged
                blocked_by = $blockedBy
            }
        }
    }
}

$data = [ordered]@{
    computer_name = $env:COMPUTERNAME
    edge_transport = $false
    site = $siteName
    applications = @($places | Where-Object { $_.path } | ForEach-Object { $_.path })
    locations = $locations
    apphost = [ordered]@{ file = $appHostPath; sha256 = $appHostHash }
    url_rewrite = Get-UrlRewriteState
    exsetup_version = (Get-ExSetupVersion).exsetup_version
    backups = $backups
}
@{ changed = $false; data = $data }
